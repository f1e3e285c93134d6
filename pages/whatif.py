import streamlit as st
st.title('whatif')

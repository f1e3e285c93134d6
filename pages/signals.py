import streamlit as st
st.title('signals')

"""Model zoo: what each preset recovers when there is something to recover (and when there is not).

Reads the committed learning report (``finmt learning``): every preset trained with its own
defaults on synthetic markets whose predictable part is known exactly, scored on the test
segment against that oracle, next to a random walk where every model must sit at chance.
"""

from __future__ import annotations

import streamlit as st

from dashboard import links
from dashboard import widgets as w
from finmt_core.evaluation.learning import MARKETS, load_report

st.title("Model zoo: does it learn?", anchor=False)
st.caption(
    "Each preset is trained with its defaults on synthetic markets whose true expected return (the "
    "*oracle*) is known, then scored on the test segment. **Share of the oracle's edge** = (accuracy − 50 %) "
    "/ (oracle accuracy − 50 %); **IC / oracle IC** compares per-date rank correlations with the realised "
    "return. On the random walk nothing can be predicted: accuracy must stay near 50 % and the IC near 0."
)

report = load_report()
if report is None:
    w.empty_state("No learning report yet", "Run `finmt learning --json finmt_core/evaluation/learning_report.json` "
                  "to train the zoo on the planted markets and a random walk (tens of minutes on a 2-core CPU).")
    st.stop()

summary = report["summary"]
st.caption(f"Measured {report.get('measured', 'on an unknown date')} · {report.get('machine', '')}")
markets = list(dict.fromkeys(summary["market"]))
market = links.url_choice(st, "Market", markets, key="zoo_market", widget="segmented_control")
if market in MARKETS:
    st.markdown(f"**{market}** — {MARKETS[market].description}")
shown = summary[summary["market"] == market].copy()
shown["preset"] = shown["preset"] + shown["single_task"].map({True: " (single-task)", False: ""})
st.dataframe(
    shown[["preset", "accuracy", "oracle_accuracy", "share_of_edge", "ic", "oracle_ic", "ic_ratio", "seeds", "train_s"]],
    hide_index=True, width="stretch",
    column_config={
        "preset": "Preset",
        "accuracy": st.column_config.NumberColumn("Test accuracy", format="percent"),
        "oracle_accuracy": st.column_config.NumberColumn("Oracle accuracy", format="percent"),
        "share_of_edge": st.column_config.NumberColumn("Share of the oracle's edge", format="%.2f"),
        "ic": st.column_config.NumberColumn("IC", format="%+.3f"),
        "oracle_ic": st.column_config.NumberColumn("Oracle IC", format="%+.3f"),
        "ic_ratio": st.column_config.NumberColumn("IC / oracle IC", format="%.2f"),
        "seeds": st.column_config.NumberColumn("Market seeds"),
        "train_s": st.column_config.NumberColumn("Train time (s)", format="%.0f"),
    },
)
if MARKETS.get(market) is not None and MARKETS[market].random_walk:
    st.info("A random walk has no edge to share: the oracle predicts 0 everywhere. Read accuracy − 50 % and the "
            "IC as noise; a model far from them would mean leakage.", icon=":material/info:")
st.caption("Reproduce: `finmt learning --market " + market + " --seeds 1,2 --json report.json`.")

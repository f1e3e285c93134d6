"""Explanations: attention maps, Captum attributions, SHAP values and embeddings."""

from __future__ import annotations

from finmt_core.explain.attention import AttentionMap, attention_maps, rollout
from finmt_core.explain.attribution import Attribution, integrated_gradients, saliency
from finmt_core.explain.embeddings import collect_embeddings, embedding_frame, project_2d
from finmt_core.explain.shap_values import gradient_shap, shap_summary, tree_shap

__all__ = [
    "AttentionMap",
    "Attribution",
    "attention_maps",
    "collect_embeddings",
    "embedding_frame",
    "gradient_shap",
    "integrated_gradients",
    "project_2d",
    "rollout",
    "saliency",
    "shap_summary",
    "tree_shap",
]

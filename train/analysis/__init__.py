"""The paper's analyses: the ablation table (ablate, ablation_report), what the modules do in a trained model
(contributions, explain and its figures, explain_video), per-class comparisons (per_class), and the plots and
score files they and `eval` share (plots, scores)."""

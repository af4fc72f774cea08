"""The EMER paper's own numbers (Tables II-IX), printed beside ours by `emer-train report`.

Transcribed from the paper's tables: classification in %, regression unscaled. The paper reports
5-fold participant-independent cross-validation on EMER (1,043 train / 260 test per fold) and, as
its reference code does, the mean over folds; compare them with our fold-mean column, on EMER,
under the same protocol. Scores on synthetic data or on a lab's own sessions are not comparable
with them at all. "MuT" in the paper is MulT.
"""

from __future__ import annotations

CLS = ("WAR", "UAR", "F1")


def _cls(er: tuple, fer: tuple) -> dict:
    return {"er": dict(zip(CLS, er)), "fer": dict(zip(CLS, fer))}


# Table II (3-class) and III (7-class): ER (WAR, UAR, F1), FER (WAR, UAR, F1)
TABLE_II = {
    "TMC": _cls((54.83, 37.52, 45.87), (54.56, 39.84, 46.96)),
    "TAILOR": _cls((52.98, 34.70, 47.58), (63.91, 43.61, 53.12)),
    "MulT": _cls((57.33, 48.03, 53.53), (64.94, 52.18, 61.48)),
    "LMF": _cls((58.78, 49.36, 54.80), (66.90, 56.55, 63.64)),
    "ResNet_LSTM": _cls((57.78, 49.06, 55.08), (67.24, 56.50, 63.52)),
    "ResNet_Transformer": _cls((56.75, 49.63, 55.70), (61.01, 46.56, 56.23)),
    "C3D_LSTM": _cls((51.92, 43.89, 46.93), (61.90, 44.02, 52.74)),
    "C3D_Transformer": _cls((52.51, 42.44, 53.12), (59.67, 45.88, 55.01)),
    "Self_MM": _cls((54.08, 42.89, 47.48), (61.51, 42.34, 50.69)),
    "MMIM": _cls((55.94, 46.93, 53.13), (68.05, 55.99, 63.57)),
    "EMERT": _cls((59.28, 52.62, 55.71), (68.10, 56.91, 63.73)),
}
TABLE_III = {
    "TMC": _cls((31.28, 27.20, 25.20), (49.64, 31.11, 42.66)),
    "TAILOR": _cls((33.39, 24.85, 28.40), (48.9, 30.55, 37.12)),
    "MulT": _cls((31.96, 27.45, 28.40), (48.83, 32.82, 42.78)),
    "LMF": _cls((33.07, 27.12, 27.81), (49.34, 32.05, 42.53)),
    "ResNet_LSTM": _cls((31.18, 27.64, 27.48), (47.83, 32.79, 41.38)),
    "ResNet_Transformer": _cls((29.21, 23.49, 25.98), (47.33, 31.10, 40.43)),
    "C3D_LSTM": _cls((31.56, 27.38, 28.41), (47.90, 31.78, 41.83)),
    "C3D_Transformer": _cls((31.66, 20.49, 26.85), (42.50, 21.54, 29.33)),
    "Self_MM": _cls((32.47, 27.55, 28.19), (49.58, 32.05, 42.77)),
    "MMIM": _cls((31.71, 27.81, 28.43), (48.61, 31.77, 42.50)),
    "EMERT": _cls((33.92, 28.17, 30.38), (51.18, 33.04, 43.33)),
}


def _va(*v) -> dict:
    """12 numbers in the paper's order: ER arousal, ER valence, FER arousal, FER valence; each MAE, MSE, RMSE."""
    out, i = {}, 0
    for t in ("er", "fer"):
        for d in ("arousal", "valence"):
            out[(t, d)] = dict(zip(("MAE", "MSE", "RMSE"), v[i:i + 3]))
            i += 3
    return out


# Table IV: valence/arousal regression
TABLE_IV = {
    "TMC": _va(0.369, 0.264, 0.468, 0.438, 0.304, 0.540, 0.226, 0.079, 0.276, 0.375, 0.218, 0.460),
    "TAILOR": _va(0.373, 0.223, 0.465, 0.514, 0.390, 0.619, 0.246, 0.089, 0.294, 0.291, 0.231, 0.474),
    "MulT": _va(0.399, 0.263, 0.503, 0.481, 0.344, 0.573, 0.236, 0.085, 0.287, 0.338, 0.180, 0.417),
    "LMF": _va(0.368, 0.219, 0.457, 0.440, 0.283, 0.526, 0.228, 0.080, 0.278, 0.286, 0.128, 0.359),
    "ResNet_LSTM": _va(0.383, 0.241, 0.482, 0.454, 0.303, 0.543, 0.229, 0.082, 0.281, 0.303, 0.138, 0.366),
    "ResNet_Transformer": _va(0.388, 0.241, 0.481, 0.450, 0.293, 0.537, 0.234, 0.086, 0.288, 0.299, 0.136, 0.362),
    "C3D_LSTM": _va(0.373, 0.221, 0.464, 0.470, 0.319, 0.550, 0.228, 0.080, 0.276, 0.295, 0.139, 0.366),
    "C3D_Transformer": _va(0.376, 0.224, 0.465, 0.497, 0.333, 0.571, 0.239, 0.087, 0.288, 0.342, 0.179, 0.416),
    "Self_MM": _va(0.374, 0.228, 0.470, 0.444, 0.302, 0.542, 0.244, 0.092, 0.297, 0.351, 0.189, 0.426),
    "MMIM": _va(0.379, 0.230, 0.471, 0.443, 0.295, 0.535, 0.228, 0.084, 0.285, 0.290, 0.131, 0.356),
    "EMERT": _va(0.365, 0.217, 0.456, 0.433, 0.279, 0.519, 0.223, 0.078, 0.266, 0.286, 0.127, 0.351),
}
# Table V: FER intensity (MAE, MSE, RMSE)
TABLE_V = {"ResNet_Transformer": (0.701, 0.707, 0.829), "MulT": (0.804, 1.035, 0.999), "EMERT": (0.660, 0.673, 0.809)}
# Table VI: modality ablation, 7-class (variant names as in training.protocols)
TABLE_VI = {
    "F": _cls((30.21, 26.40, 29.32), (46.95, 27.21, 34.98)),
    "E": _cls((31.51, 26.12, 27.61), (40.80, 18.99, 24.92)),
    "G": _cls((28.20, 27.20, 24.10), (41.98, 22.74, 28.72)),
    "F+E": _cls((32.89, 27.03, 29.89), (49.35, 32.25, 41.98)),
    "F+G": _cls((32.81, 27.63, 29.85), (47.29, 27.75, 35.09)),
    "E+G": _cls((31.88, 27.64, 29.01), (43.32, 24.71, 31.22)),
    "EMERT": _cls((33.92, 28.17, 30.38), (51.18, 33.04, 43.33)),
}
# Table VII: 3-class, single vs multi-task: (task, variant) -> (WAR, UAR, F1)
TABLE_VII = {("fer", "FER only"): (67.73, 58.31, 63.18), ("fer", "EMERT"): (68.10, 56.91, 63.73),
             ("er", "ER only"): (56.01, 46.68, 50.85), ("er", "EMERT"): (59.28, 52.62, 55.71)}
# Table VIII: module ablation, 7-class
TABLE_VIII = {
    "Baseline": _cls((31.18, 27.64, 27.48), (47.83, 32.79, 41.38)),
    "+MAFD": _cls((31.90, 27.85, 29.70), (48.07, 32.85, 42.80)),
    "+EMT": _cls((32.93, 28.00, 29.73), (48.61, 32.91, 42.11)),
    "EMERT": _cls((33.92, 28.17, 30.38), (51.18, 33.04, 43.33)),
}
# Table IX: 3-class ER under Gaussian noise, variance -> (WAR, F1)
TABLE_IX = {"MMIM": {0.01: (46.23, 45.02), 0.05: (45.13, 40.05), 0.1: (42.82, 36.01)},
            "Self_MM": {0.01: (42.98, 42.24), 0.05: (42.27, 42.16), 0.1: (37.20, 40.45)},
            "EMERT": {0.01: (56.99, 57.01), 0.05: (55.42, 57.30), 0.1: (56.33, 56.23)}}

"""The protocols, tables and comparison methods by name: what `emer-train --help` lists, in a
module that imports nothing heavy (training/protocols.py, which runs them, imports torch and
scikit-learn)."""

PROTOCOLS = ("er3", "er7", "er_va", "fer3", "fer7", "fer_va", "fer_int")
PROTOCOL_TITLES = {
    "er3": "3-class ER", "er7": "7-class ER", "er_va": "ER valence/arousal",
    "fer3": "3-class FER", "fer7": "7-class FER", "fer_va": "FER valence/arousal", "fer_int": "FER intensity",
}
# The paper's comparison methods (Tables II-IV) that fit face + eye + fixation: training/models/comparison.py
COMPARISON_METHODS = ("LMF", "MulT", "ResNet_LSTM", "ResNet_Transformer", "MMIM")
TABLES = {
    "main": ("EMERT",),
    "comparison": (*COMPARISON_METHODS, "EMERT"),
    "modality": ("F", "E", "G", "F+E", "F+G", "E+G", "EMERT"),
    "multitask": ("FER only", "ER only", "EMERT"),
    "modules": ("Baseline", "+MAFD", "+EMT", "EMERT"),
    "noise": ("EMERT",),
    "gap": ("F", "EMERT"),
}
# a quick run: small model, few epochs, a higher learning rate so it converges within them
QUICK = {"d_model": 32, "n_layers": 1, "n_heads": 2, "epochs": 6, "lr": 1e-3, "folds": 3}

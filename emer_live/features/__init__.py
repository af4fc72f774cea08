"""Per-frame face features (face.py: MediaPipe, needs cv2 and mediapipe) and per-sample eye
features (eye_v1.py batch + eye.py online: numpy only, shared with the training package)."""

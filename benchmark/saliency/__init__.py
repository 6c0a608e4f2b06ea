"""Saliency maps of recorded runs: computing them (MONAI Grad-CAM, Grad-CAM++, occlusion), caching them in
the run directory and scoring them against expert boxes (pointing game, IoU)."""

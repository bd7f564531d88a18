"""The motion module (Hallo4 sec. 3.3): eq. 6 reshape, eq. 7 projections, eq. 8 fusion processors, the skeleton
branch, frame-aligned audio features, attaching it to a diffusers Wan / UNet model, and Hallo4's weight mapping."""

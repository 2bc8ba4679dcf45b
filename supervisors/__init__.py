"""OTP supervision on top of ``actors``."""

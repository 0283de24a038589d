"""Outside services behind small interfaces: LLMs, Tripo3D, WordPress."""

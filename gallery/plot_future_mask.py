"""
The future mask as a picture
============================

A decoder may only look backwards: row *i* of the (L, L) future mask says which positions
query *i* may attend to. Dark cells are allowed.
"""

# %%
import matplotlib.pyplot as plt

from chapter3.masks import future_mask

mask = future_mask(6)
fig, ax = plt.subplots(figsize=(3.5, 3.5))
ax.imshow(mask, cmap="Greys", vmin=0, vmax=1)
ax.set_xlabel("key position j")
ax.set_ylabel("query position i")
ax.set_title("future_mask(6): True = may attend")
plt.show()

"""Draws the example games' sprites into assets/sprites/ (run once: `pip install pillow`).

The sprites are white or near-white so that the games tint them per entity.
"""

from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

OUT = Path(__file__).resolve().parent.parent / "assets" / "sprites"


def blip(size=32):
    """A soft glowing dot: the swarm's racers."""
    glow = Image.new("L", (size, size), 0)
    ImageDraw.Draw(glow).ellipse((4, 4, size - 5, size - 5), fill=150)
    glow = glow.filter(ImageFilter.GaussianBlur(3))
    core = Image.new("L", (size, size), 0)
    ImageDraw.Draw(core).ellipse((10, 10, size - 11, size - 11), fill=255)
    mask = Image.new("L", (size, size), 0)
    mask.paste(glow)
    mask.paste(core, mask=core)
    white = Image.new("RGBA", (size, size), (255, 255, 255, 255))
    white.putalpha(mask)
    return white


def avatar(size=64):
    """A round head with a face: the chat ticker's users."""
    scale = 4
    big = size * scale
    img = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    d.ellipse((2 * scale, 2 * scale, big - 2 * scale, big - 2 * scale), fill=(255, 255, 255, 255))
    eye = 5 * scale
    for cx in (big * 0.36, big * 0.64):
        d.ellipse((cx - eye, big * 0.40 - eye, cx + eye, big * 0.40 + eye), fill=(40, 40, 60, 255))
    d.arc((big * 0.30, big * 0.38, big * 0.70, big * 0.75), 20, 160, fill=(40, 40, 60, 255), width=4 * scale)
    return img.resize((size, size), Image.LANCZOS)


NPC = """
................
.....MMMMMM.....
....MMMMMMMM....
...MMMMMMMMMM...
..MMMMMMMMMMMM..
....SSSSSSSS....
....SESSSSES....
....SSSSSSSS....
....BBSSSSBB....
.....BBBBBB.....
...RRRBBBBRRR...
..RRRRRBBRRRRR..
..RR.RRRRRR.RR..
..SS.RRRRRR.SS..
.....RR..RR.....
.....KK..KK.....
"""

NPC_COLORS = {
    "M": (92, 64, 168, 255),   # hat
    "S": (238, 196, 160, 255),  # skin
    "E": (30, 30, 40, 255),    # eyes
    "B": (230, 230, 235, 255),  # beard
    "R": (70, 110, 200, 255),  # robe
    "K": (60, 40, 30, 255),    # boots
    ".": (0, 0, 0, 0),
}


def npc():
    """A pixel-art wizard: the dialogue game's NPC (drawn 16×16, shown scaled up)."""
    rows = [row for row in NPC.strip().splitlines()]
    img = Image.new("RGBA", (16, 16), (0, 0, 0, 0))
    for y, row in enumerate(rows):
        for x, cell in enumerate(row):
            img.putpixel((x, y), NPC_COLORS[cell])
    return img


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    blip().save(OUT / "blip.png")
    avatar().save(OUT / "avatar.png")
    npc().save(OUT / "npc.png")
    print("wrote", sorted(p.name for p in OUT.iterdir()))


if __name__ == "__main__":
    main()

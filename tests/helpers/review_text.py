"""Messy review text shared by the data and trainer tests."""

# Messy review text written for these tests: HTML breaks, quotes of every
# kind, entities, non-ASCII letters and symbols, commas and tabs.
POSITIVE_SNIPPETS = [
    'A "wonderful" little film.<br /><br />The lead (Zoë) is great, and the score is lovely!',
    "I loved it — truly. <br/>Best café scene I've seen; 10/10 &amp; would watch again.",
    "Charming, witty and moving.<BR>Kudos to the cast… 'Amélie' meets Ozu. ★★★★★",
    'Great fun! The "twist" works,\nand the music — oh, the music — is superb.',
]
NEGATIVE_SNIPPETS = [
    "Awful.<br /><br />The plot makes no sense & the acting is wooden; a waste of 2 hours.",
    'Boring, "clever" only in its own eyes.<br />Naïve script, dull pacing… 1/10.',
    "Terrible sequel. The director's cut is even worse!!! <i>Avoid</i>.",
    "I hated the ending\tand the dialogue; München deserved better. ☹",
]

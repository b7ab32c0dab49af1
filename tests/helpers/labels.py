"""Labels the way real data has them: IMDB-like reviews with markup, accents,
emoji and odd whitespace, and the strings that break TSV readers."""

REVIEWS = [
    'This movie was <br /><br />"terrible" - really, truly awful!!! 1/10.',
    "Ich fand den Film großartig; die Musik (von Jürgen) war schön… 10/10",
    "An absolute <i>masterpiece</i>. The actors' work was superb & moving.",
    "Not good.  Not bad either.\tJust... meh?  Café scenes were nice — though.",
    "I've seen worse <br />but this wasn't great:   the plot made no sense 😀",
    "  Spaces   everywhere \u3000 and a non-breaking\u00a0space, 'quotes' & \"more\"",
    "Le réalisateur a fait un travail médiocre; ça ne vaut pas le détour.",
    "Worst. Film. Ever. <br /><br />Don't waste your time (or money) on it!!!",
] * 20

TRICKY = [
    "", " ", "  ", "\t", "\n", "\r", "a\tb", "line\nbreak", "cr\rlf", "\\", "back\\slash",
    "\\t literal", "\u3000", "\ufeff", "\u00a0", "x\u00a0", "\x00", "\x1b[31m", "\x85",
    "caf\u00e9", "😀", "\ud800", "\\empty", "<pad>", "tab\tin\tfirst",
]

"""Wikitext to plain prose with mwparserfromhell.

Removed: templates (infoboxes, citations, notes), <ref> and other non-prose tags, tables,
file and category links, headings, and the trailing sections that hold no prose (references,
external links, see also). Links keep their label. The original study fed raw markup to its
models; this is what keeps the inputs to the article itself.
"""

from __future__ import annotations

_NON_PROSE_TAGS = {
    "ref", "references", "table", "gallery", "math", "chem", "score", "timeline", "imagemap",
    "syntaxhighlight", "source", "graph", "mapframe", "templatestyles", "noinclude",
}  # fmt: skip
# Headings of trailing sections without prose, casefolded, per language.
END_SECTIONS = {
    "en": {"references", "notes", "see also", "external links", "further reading",
           "bibliography", "sources", "citations", "footnotes"},
    "fr": {"notes et références", "notes", "références", "voir aussi", "liens externes",
           "bibliographie", "articles connexes", "annexes"},
    "de": {"einzelnachweise", "anmerkungen", "literatur", "weblinks", "siehe auch",
           "quellen"},
    "ja": {"脚注", "注釈", "出典", "参考文献", "関連項目", "外部リンク"},
}  # fmt: skip
# Canonical namespace names work on every wiki, beside the local ones the site reports.
_FILE_AND_CATEGORY = {"file", "image", "category", "media"}


def wikitext_to_text(
    wikitext: str, language: str, hidden_namespaces: set[str] = frozenset()
) -> str:
    """Plain prose of an article. `hidden_namespaces`: the wiki's own names of the file and
    category namespaces (Fichier, Kategorie, ファイル, ...)."""
    import mwparserfromhell

    code = mwparserfromhell.parse(wikitext)
    end = END_SECTIONS.get(language, set()) | END_SECTIONS["en"]
    for section in code.get_sections(levels=[2]):
        headings = section.filter_headings(recursive=False)
        if headings and headings[0].title.strip_code().strip().casefold() in end:
            code.remove(section)
    hidden = _FILE_AND_CATEGORY | {name.casefold() for name in hidden_namespaces}
    for node in code.filter(recursive=False):
        if _is_noise(node, hidden):
            code.remove(node)
    for link in code.filter_wikilinks():  # file links nested in prose
        if _is_hidden_link(link, hidden):
            _remove(code, link)
    return code.strip_code(normalize=True, collapse=True)


def _is_noise(node, hidden: set[str]) -> bool:
    from mwparserfromhell.nodes import Comment, Heading, Tag, Template, Wikilink

    if isinstance(node, (Template, Comment, Heading)):
        return True
    if isinstance(node, Tag):
        return str(node.tag).strip().lower() in _NON_PROSE_TAGS
    return isinstance(node, Wikilink) and _is_hidden_link(node, hidden)


def _is_hidden_link(link, hidden: set[str]) -> bool:
    title = str(link.title).strip().lstrip(":")
    return ":" in title and title.split(":", 1)[0].strip().casefold() in hidden


def _remove(code, node) -> None:
    try:
        code.remove(node)
    except ValueError:  # already gone with an enclosing node removed before it
        pass

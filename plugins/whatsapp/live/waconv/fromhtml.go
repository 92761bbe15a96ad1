// SPDX-License-Identifier: AGPL-3.0-or-later

// The SDK's HTML (and what Matrix clients send) to WhatsApp markup (FromHTML).

package waconv

import (
	"html"
	"strconv"
	"strings"
)

// FromHTML renders the SDK's HTML subset (and what Matrix clients send
// beyond it) as WhatsApp markup: <b>/<strong> → *x*, <i>/<em> → _x_,
// <s>/<del>/<strike> → ~x~, <code> → `x`, <pre> → ```x```, <blockquote> →
// "> " per line, <br>/<p>/<div> → newlines, lists → "- x" / "1. x",
// <a href=u>t</a> → "t (u)" or "u" when t is u (a matrix.to mention keeps
// its text), <img alt> → its alt text.  Rich replies' fallbacks
// (<mx-reply>), scripts and styles are dropped, entities decoded, other tags
// stripped.  Malformed HTML is read as well as it can be; never panics.
func FromHTML(s string) string {
	w := &htmlWriter{stack: []*frame{{}}}
	for i := 0; i < len(s); {
		if s[i] != '<' {
			j := strings.IndexByte(s[i:], '<')
			if j < 0 {
				j = len(s) - i
			}
			w.text(html.UnescapeString(s[i : i+j]))
			i += j
			continue
		}
		if strings.HasPrefix(s[i:], "<!--") {
			end := strings.Index(s[i+4:], "-->")
			if end < 0 {
				break
			}
			i += 4 + end + 3
			continue
		}
		name, attrs, closing, n := parseTag(s[i:])
		if n == 0 {
			w.text("<")
			i++
			continue
		}
		i += n
		if closing {
			w.close(name)
			continue
		}
		switch name {
		case "mx-reply", "script", "style", "head", "title", "template":
			end := indexFold(s[i:], "</"+name)
			if end < 0 {
				i = len(s)
			} else {
				i += end
			}
			continue
		}
		w.open(name, attrs)
	}
	for len(w.stack) > 1 {
		w.pop()
	}
	return strings.Trim(w.stack[0].buf.String(), " \n")
}

// maxNesting bounds the tags kept open, against hostile HTML.
const maxNesting = 32

type frame struct {
	tag     string
	buf     strings.Builder
	pending bool // a newline is owed before the next content
	bullet  bool // the line holds only a list item's bullet so far
	// quoted: the last thing written is a quote; a quote right after it
	// was a separate quote, which WhatsApp writes after a blank line.
	quoted  bool
	href    string
	ordered bool
	count   int
}

type htmlWriter struct{ stack []*frame }

func (w *htmlWriter) top() *frame { return w.stack[len(w.stack)-1] }

func (w *htmlWriter) in(tags ...string) bool {
	for _, f := range w.stack {
		for _, t := range tags {
			if f.tag == t {
				return true
			}
		}
	}
	return false
}

func (f *frame) write(s string) {
	if s == "" {
		return
	}
	if f.pending {
		f.buf.WriteByte('\n')
		f.pending = false
	}
	f.buf.WriteString(s)
	f.bullet = false
	f.quoted = false
}

// newlines makes the frame end with k newlines, unless it is empty.
func (f *frame) newlines(k int) {
	if f.bullet {
		return // a paragraph opening a list item stays on the bullet's line
	}
	if f.buf.Len() == 0 {
		f.pending = false
		return
	}
	if f.pending {
		f.buf.WriteByte('\n')
		f.pending = false
	}
	s := f.buf.String()
	have := len(s) - len(strings.TrimRight(s, "\n"))
	for ; have < k; have++ {
		f.buf.WriteByte('\n')
	}
}

// blockStart begins a code block or a quote: ToHTML folds the line break
// before them into the block, so one is always owed unless at the start.
func (f *frame) blockStart(name string) {
	if name == "blockquote" && f.quoted && f.pending {
		// Two quotes in a row: one blank line between them.
		f.buf.WriteString("\n\n")
		f.pending = false
		return
	}
	if f.bullet {
		f.buf.WriteByte('\n')
		f.bullet = false
		return
	}
	if f.pending {
		f.buf.WriteByte('\n')
		f.pending = false
	} else if f.buf.Len() > 0 {
		f.buf.WriteByte('\n')
	}
}

func (f *frame) atLineStart() bool {
	s := f.buf.String()
	return f.pending || s == "" || strings.HasSuffix(s, "\n")
}

func (w *htmlWriter) text(s string) {
	f := w.top()
	if !w.in("pre") {
		lead := len(s) - len(strings.TrimLeft(s, " \t\r\n"))
		fromBreak := strings.ContainsAny(s[:lead], "\r\n")
		s = collapseNewlines(s)
		if fromBreak && f.atLineStart() {
			s = strings.TrimLeft(s, " ") // the source's line break, not a space
		}
	}
	f.write(s)
}

// collapseNewlines turns each run of white space holding a line break
// into one space: line breaks in HTML source are not line breaks.
func collapseNewlines(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		j := i
		for j < len(s) && (s[j] == ' ' || s[j] == '\t' || s[j] == '\n' || s[j] == '\r') {
			j++
		}
		if j > i {
			if strings.ContainsAny(s[i:j], "\r\n") {
				b.WriteByte(' ')
			} else {
				b.WriteString(s[i:j])
			}
			i = j
			continue
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String()
}

func (w *htmlWriter) open(name string, attrs map[string]string) {
	f := w.top()
	switch name {
	case "br":
		f.write("\n")
	case "img":
		if alt := attrs["alt"]; alt != "" {
			w.text(alt)
		}
	case "hr":
		f.newlines(1)
		f.write("―――")
		f.pending = true
	case "p":
		f.newlines(2)
	case "div", "tr":
		f.newlines(1)
	case "li":
		f.newlines(1)
		depth, list := 0, (*frame)(nil)
		for _, g := range w.stack {
			if g.tag == "ul" || g.tag == "ol" {
				depth++
				list = g
			}
		}
		prefix := "- "
		if list != nil && list.ordered {
			list.count++
			prefix = strconv.Itoa(list.count) + ". "
		}
		if depth > 1 {
			prefix = strings.Repeat("  ", depth-1) + prefix
		}
		f.write(prefix)
		f.bullet = true
	case "td", "th":
		if !f.atLineStart() {
			f.write(" ")
		}
	case "b", "strong", "i", "em", "s", "del", "strike", "code", "pre", "blockquote", "a",
		"ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6":
		switch {
		case name == "pre" || name == "blockquote":
			f.blockStart(name)
		case name == "ul" || name == "ol" || name[0] == 'h':
			f.newlines(1)
		}
		if len(w.stack) > maxNesting {
			return // deeper than any real message: the tag is ignored
		}
		nf := &frame{tag: name, ordered: name == "ol", href: attrs["href"]}
		if name == "ol" {
			if st, err := strconv.Atoi(attrs["start"]); err == nil && st > 0 && st < 1<<20 {
				nf.count = st - 1
			}
		}
		w.stack = append(w.stack, nf)
	}
}

func (w *htmlWriter) close(name string) {
	switch name {
	case "p":
		w.top().pending = true
		return
	case "div", "li", "tr":
		w.top().pending = true
		return
	}
	for k := len(w.stack) - 1; k > 0; k-- {
		if w.stack[k].tag == name {
			for len(w.stack) > k {
				w.pop()
			}
			return
		}
	}
}

var inlineMarker = map[string]string{
	"b": "*", "strong": "*", "i": "_", "em": "_", "s": "~", "del": "~", "strike": "~", "code": "`",
	"h1": "*", "h2": "*", "h3": "*", "h4": "*", "h5": "*", "h6": "*",
}

// pop closes the top frame into its parent.
func (w *htmlWriter) pop() {
	f := w.top()
	w.stack = w.stack[:len(w.stack)-1]
	parent := w.top()
	inner := f.buf.String()
	literal := w.in("pre", "code")
	switch f.tag {
	case "pre":
		if literal {
			parent.write(inner)
			return
		}
		parent.write("```" + inner + "```")
		parent.pending = true
	case "blockquote":
		inner = strings.TrimRight(inner, "\n")
		if inner == "" {
			return
		}
		var lines []string
		for _, l := range strings.Split(inner, "\n") {
			if strings.TrimSpace(l) != "" { // "> " alone is no quote line
				lines = append(lines, "> "+l)
			}
		}
		parent.write(strings.Join(lines, "\n"))
		parent.pending = true
		parent.quoted = true
	case "ul", "ol":
		parent.write(strings.TrimRight(inner, "\n"))
		parent.pending = true
	case "a":
		parent.write(linkText(inner, f.href))
	default:
		m := inlineMarker[f.tag]
		for _, g := range w.stack {
			if literal || inlineMarker[g.tag] == m {
				m = "" // inside code, or already inside the same marker
			}
		}
		parent.write(wrapLines(inner, m))
		if f.tag[0] == 'h' {
			parent.pending = true
		}
	}
}

// wrapLines puts marker m around each line's text, spaces kept outside
// (WhatsApp markers must touch the text they format).
func wrapLines(s, m string) string {
	if m == "" {
		return s
	}
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" {
			continue
		}
		start := strings.Index(l, t)
		lines[i] = l[:start] + m + t + m + l[start+len(t):]
	}
	return strings.Join(lines, "\n")
}

func linkText(text, href string) string {
	t := strings.TrimSpace(text)
	switch {
	case href == "" || strings.HasPrefix(strings.ToLower(href), "javascript:"):
		return text
	case strings.HasPrefix(href, "https://matrix.to/#/"):
		if t == "" {
			return href
		}
		return text
	case t == "" || t == href || "mailto:"+t == href || "tel:"+t == href:
		if t == "" || t == href {
			return href
		}
		return t
	case strings.TrimSuffix(href, "/") == strings.TrimSuffix(t, "/") ||
		strings.TrimPrefix(strings.TrimPrefix(href, "https://"), "http://") == t:
		return href
	}
	return text + " (" + href + ")"
}

// parseTag reads a tag at the start of s: its lower-cased name, its
// attributes, whether it closes, and its length (0: not a tag).
func parseTag(s string) (name string, attrs map[string]string, closing bool, n int) {
	i := 1
	if i < len(s) && s[i] == '/' {
		closing = true
		i++
	}
	start := i
	for i < len(s) && (isAlnum(s[i]) || (i > start && s[i] == '-')) {
		i++
	}
	if i == start || (i < len(s) && !(s[i] == '>' || s[i] == '/' || isSpace(s[i]))) {
		return "", nil, false, 0
	}
	name = strings.ToLower(s[start:i])
	attrs = map[string]string{}
	for i < len(s) {
		for i < len(s) && (isSpace(s[i]) || s[i] == '/') {
			i++
		}
		if i >= len(s) {
			return "", nil, false, 0
		}
		if s[i] == '>' {
			return name, attrs, closing, i + 1
		}
		as := i
		for i < len(s) && !isSpace(s[i]) && s[i] != '=' && s[i] != '>' && s[i] != '/' {
			i++
		}
		an := strings.ToLower(s[as:i])
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if i < len(s) && s[i] == '=' {
			i++
			for i < len(s) && isSpace(s[i]) {
				i++
			}
			var v string
			if i < len(s) && (s[i] == '"' || s[i] == '\'') {
				q := s[i]
				end := strings.IndexByte(s[i+1:], q)
				if end < 0 {
					return "", nil, false, 0
				}
				v = s[i+1 : i+1+end]
				i += end + 2
			} else {
				vs := i
				for i < len(s) && !isSpace(s[i]) && s[i] != '>' {
					i++
				}
				v = s[vs:i]
			}
			if an != "" {
				attrs[an] = html.UnescapeString(v)
			}
		} else if an != "" {
			attrs[an] = ""
		}
	}
	return "", nil, false, 0
}

func isAlnum(c byte) bool {
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' }

// indexFold is strings.Index ignoring ASCII case.
func indexFold(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return i
		}
	}
	return -1
}

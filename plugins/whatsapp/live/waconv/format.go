// SPDX-License-Identifier: AGPL-3.0-or-later

// WhatsApp markup to the SDK's HTML subset (ToHTML).

package waconv

import (
	"strings"
	"unicode"
)

// WhatsApp markup: *bold*, _italic_, ~strike~, `inline code`, ```block```
// and "> " quote lines.  A marker opens at a word boundary (start, space or
// punctuation before it) and must touch a non-space character inside; it
// closes on the first matching marker that touches non-space inside and
// ends a word.  Markers do not span lines; code spans and code blocks are
// literal; URLs are never formatted inside.

// ToHTML renders WhatsApp markup as the SDK's HTML subset, or "" when the
// text has no formatting.  @<digits> mentions that mention resolves are
// rendered as "@name".
func ToHTML(text string, mention func(userID string) (name string, ok bool)) string {
	h, _ := render(text, mention)
	return h
}

// render gives the HTML ("" when plain) and the plain text with resolved
// mentions replaced by "@name".
func render(text string, mention func(string) (string, bool)) (string, string) {
	r := renderer{mention: mention}
	var h, p strings.Builder
	rest := text
	dropLead := false
	for rest != "" {
		seg, code, after, found := cutCodeBlock(rest)
		lead, trail := "", ""
		if dropLead && strings.HasPrefix(seg, "\n") {
			lead, seg = "\n", seg[1:]
		}
		if found && strings.HasSuffix(seg, "\n") {
			trail, seg = "\n", seg[:len(seg)-1]
		}
		p.WriteString(lead)
		r.block(seg, &h, &p)
		p.WriteString(trail)
		if !found {
			break
		}
		h.WriteString("<pre>" + escape(code) + "</pre>")
		p.WriteString("```" + code + "```")
		r.formatted = true
		rest, dropLead = after, true
	}
	plain := text
	if r.mentioned {
		plain = p.String()
	}
	if !r.formatted {
		return "", plain
	}
	return h.String(), plain
}

// cutCodeBlock finds the first ```block``` with a non-empty body.
func cutCodeBlock(s string) (before, code, after string, found bool) {
	i := strings.Index(s, "```")
	for i >= 0 {
		j := strings.Index(s[i+3:], "```")
		if j < 0 {
			return s, "", "", false
		}
		if strings.TrimSpace(s[i+3:i+3+j]) != "" {
			return s[:i], s[i+3 : i+3+j], s[i+3+j+3:], true
		}
		// An empty block is no block; look further.
		k := strings.Index(s[i+1:], "```")
		if k < 0 {
			break
		}
		i = i + 1 + k
	}
	return s, "", "", false
}

type renderer struct {
	mention   func(string) (string, bool)
	formatted bool // a tag was emitted
	mentioned bool // a mention was resolved
}

// block renders lines outside code blocks: "> " lines grouped into one
// blockquote, other lines joined by <br>.
func (r *renderer) block(seg string, h, p *strings.Builder) {
	if seg == "" {
		return
	}
	lines := strings.Split(seg, "\n")
	prevQuote := false
	for n, line := range lines {
		quote := strings.HasPrefix(line, "> ") && strings.TrimSpace(line[2:]) != ""
		if n > 0 {
			p.WriteByte('\n')
		}
		if quote {
			p.WriteString("> ")
			if prevQuote {
				h.WriteString("<br>")
			} else {
				h.WriteString("<blockquote>")
			}
			r.formatted = true
			r.inline(line[2:], h, p)
		} else {
			if prevQuote {
				h.WriteString("</blockquote>")
			} else if n > 0 {
				h.WriteString("<br>")
			}
			r.inline(line, h, p)
		}
		prevQuote = quote
	}
	if prevQuote {
		h.WriteString("</blockquote>")
	}
}

// tok is one character of a line, or an atom (a URL, a code span, a
// mention) that formatting never enters.
type tok struct {
	r     rune
	atom  bool
	html  string
	plain string
}

func (t tok) space() bool { return !t.atom && unicode.IsSpace(t.r) }
func (t tok) word() bool  { return t.atom || unicode.IsLetter(t.r) || unicode.IsDigit(t.r) }

func (r *renderer) inline(line string, h, p *strings.Builder) {
	rs := []rune(line)
	var ts []tok
	for i := 0; i < len(rs); {
		boundary := i == 0 || !(unicode.IsLetter(rs[i-1]) || unicode.IsDigit(rs[i-1]))
		if boundary {
			if n := urlLen(rs[i:]); n > 0 {
				s := string(rs[i : i+n])
				ts = append(ts, tok{atom: true, html: escape(s), plain: s})
				i += n
				continue
			}
			if rs[i] == '`' {
				if k := indexRune(rs[i+1:], '`'); k > 0 && !unicode.IsSpace(rs[i+1]) && !unicode.IsSpace(rs[i+k]) {
					end := i + 1 + k
					if end+1 >= len(rs) || !(unicode.IsLetter(rs[end+1]) || unicode.IsDigit(rs[end+1])) {
						s := string(rs[i : end+1])
						ts = append(ts, tok{atom: true, html: "<code>" + escape(string(rs[i+1:end])) + "</code>", plain: s})
						r.formatted = true
						i = end + 1
						continue
					}
				}
			}
			if rs[i] == '@' && r.mention != nil {
				k := i + 1
				for k < len(rs) && rs[k] >= '0' && rs[k] <= '9' {
					k++
				}
				if k-i-1 >= 5 && (k == len(rs) || !unicode.IsLetter(rs[k])) {
					digits := string(rs[i+1 : k])
					name, ok := r.mention(digits + "@s.whatsapp.net")
					if !ok {
						name, ok = r.mention(digits + "@lid")
					}
					if ok && name != "" {
						ts = append(ts, tok{atom: true, html: "@" + escape(name), plain: "@" + name})
						r.formatted, r.mentioned = true, true
						i = k
						continue
					}
				}
			}
		}
		ts = append(ts, tok{r: rs[i]})
		i++
	}
	for _, t := range ts {
		if t.atom {
			p.WriteString(t.plain)
		} else {
			p.WriteRune(t.r)
		}
	}
	r.format(ts, findClosers(ts), 0, len(ts), h)
}

var markerTag = map[rune]string{'*': "b", '_': "i", '~': "s"}

// closers[m][j] is the first position >= j where marker m may close, or
// len(ts): whether a marker closes depends only on its neighbours, so one
// pass per line finds them all and each opener looks its closer up at once.
type closers map[rune][]int

func findClosers(ts []tok) closers {
	cs := closers{}
	for m := range markerTag {
		next := make([]int, len(ts)+1)
		next[len(ts)] = len(ts)
		for j := len(ts) - 1; j >= 0; j-- {
			next[j] = next[j+1]
			if !ts[j].atom && ts[j].r == m && j > 0 && !ts[j-1].space() && (j+1 == len(ts) || !ts[j+1].word()) {
				next[j] = j
			}
		}
		cs[m] = next
	}
	return cs
}

// format renders ts[lo:hi], looking for markers; boundaries are checked
// against the whole line so nested markers see their real neighbours.
func (r *renderer) format(ts []tok, cs closers, lo, hi int, h *strings.Builder) {
	for i := lo; i < hi; i++ {
		t := ts[i]
		if tag, ok := markerTag[t.r]; ok && !t.atom {
			if j := closer(ts, cs, i, hi); j > 0 {
				h.WriteString("<" + tag + ">")
				r.format(ts, cs, i+1, j, h)
				h.WriteString("</" + tag + ">")
				r.formatted = true
				i = j
				continue
			}
		}
		if t.atom {
			h.WriteString(t.html)
		} else {
			h.WriteString(escape(string(t.r)))
		}
	}
}

// closer is the index of the marker closing the one at i, or -1: an
// opener starts a word and touches non-space; its closer is the first one
// after the next character, within the enclosing span.
func closer(ts []tok, cs closers, i, hi int) int {
	m := ts[i].r
	if i > 0 && ts[i-1].word() {
		return -1
	}
	if i+2 >= hi || ts[i+1].space() || (!ts[i+1].atom && ts[i+1].r == m) {
		return -1
	}
	if j := cs[m][i+2]; j < hi {
		return j
	}
	return -1
}

// urlLen is the length of a URL starting at rs, 0 when none; trailing
// punctuation and markers are left out of it.
func urlLen(rs []rune) int {
	s := string(rs[:min(len(rs), 8)])
	ls := strings.ToLower(s)
	if !strings.HasPrefix(ls, "http://") && !strings.HasPrefix(ls, "https://") && !strings.HasPrefix(ls, "www.") {
		return 0
	}
	n := 0
	for n < len(rs) && !unicode.IsSpace(rs[n]) {
		n++
	}
	for n > 0 && strings.ContainsRune("*_~`.,;:!?)]}'\"»", rs[n-1]) {
		n--
	}
	if n <= len("www.") || (ls[0] == 'h' && n <= len("https://")) {
		return 0
	}
	return n
}

func indexRune(rs []rune, r rune) int {
	for i, c := range rs {
		if c == r {
			return i
		}
	}
	return -1
}

var htmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&#39;")

func escape(s string) string { return htmlEscaper.Replace(s) }

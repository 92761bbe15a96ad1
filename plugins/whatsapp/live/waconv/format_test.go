// SPDX-License-Identifier: AGPL-3.0-or-later

// Tests of markup to HTML and back: a table of cases, round trips, fuzz targets.

package waconv

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// names is the mention resolver of the tests: two known contacts.
func names(userID string) (string, bool) {
	switch userID {
	case "33612345678@s.whatsapp.net":
		return "Élise", true
	case "123456789012@lid":
		return "Bob <b>", true
	}
	return "", false
}

func TestToHTML(t *testing.T) {
	cases := []struct{ in, html string }{
		// Plain text: no HTML at all.
		{"", ""},
		{"bonjour", ""},
		{"Ça va très bien, merci ! 🎉", ""},
		{"a * b * c", ""},
		{"2*3*4 = 24", ""},
		{"snake_case_name", ""},
		{"*unclosed bold", ""},
		{"_unclosed", ""},
		{"* not bold*", ""},
		{"*not bold *", ""},
		{"**", ""},
		{"****", ""},
		{"- un\n- deux\n1. trois", ""},
		{"* liste\n* encore", ""},
		{"https://example.com/un_lien_avec_des_soulignés", ""},
		{"voir https://fr.wikipedia.org/wiki/Caf%C3%A9_(boisson) !", ""},
		{"www.exemple.fr/a_b_c", ""},
		{"jean_dupont@example.fr", ""},
		{"*a\nb*", ""},
		{">pas une citation", ""},
		{"@33699999999 inconnu", ""},
		{"``` ```", ""},
		// Markup.
		{"*gras*", "<b>gras</b>"},
		{"_italique_", "<i>italique</i>"},
		{"~barré~", "<s>barré</s>"},
		{"`code`", "<code>code</code>"},
		{"un *mot* en gras", "un <b>mot</b> en gras"},
		{"*gras avec espaces*", "<b>gras avec espaces</b>"},
		{"(*entre parenthèses*)", "(<b>entre parenthèses</b>)"},
		{"*fin.*", "<b>fin.</b>"},
		{"*é*", "<b>é</b>"},
		{"*🎉 fête 🎉*", "<b>🎉 fête 🎉</b>"},
		{"*_gras italique_*", "<b><i>gras italique</i></b>"},
		{"_*italique gras*_", "<i><b>italique gras</b></i>"},
		{"~*_tout_*~", "<s><b><i>tout</i></b></s>"},
		{"*a* *b*", "<b>a</b> <b>b</b>"},
		{"*un* et *deux*", "<b>un</b> et <b>deux</b>"},
		{"*gras*\n_italique_", "<b>gras</b><br><i>italique</i>"},
		{"*a*b*", "<b>a*b</b>"},
		{"`*pas gras*`", "<code>*pas gras*</code>"},
		{"`a_b_c` et _ici_", "<code>a_b_c</code> et <i>ici</i>"},
		{"` pas du code`", ""},
		{"`pas du code `", ""},
		{"```\nfunc f() { *p = _x_ }\n```", "<pre>\nfunc f() { *p = _x_ }\n</pre>"},
		{"avant\n```code```\naprès", "avant<pre>code</pre>après"},
		{"avant\n\n```code```", "avant<br><pre>code</pre>"},
		{"```non fermé", ""},
		{"_https://example.com/a_b_", "<i>https://example.com/a_b</i>"},
		{"*https://example.com*", "<b>https://example.com</b>"},
		{"> citation", "<blockquote>citation</blockquote>"},
		{"> une\n> deux\nréponse", "<blockquote>une<br>deux</blockquote>réponse"},
		{"avant\n> *cité*", "avant<blockquote><b>cité</b></blockquote>"},
		{"<script>alert(1)</script> *x*", "&lt;script&gt;alert(1)&lt;/script&gt; <b>x</b>"},
		{"*<b>&amp;*", "<b>&lt;b&gt;&amp;amp;</b>"},
		{`_"quoted" & 'single'_`, "<i>&#34;quoted&#34; &amp; &#39;single&#39;</i>"},
		{"@33612345678 salut", "@Élise salut"},
		{"merci @123456789012 !", "merci @Bob &lt;b&gt; !"},
		{"*@33612345678*", "<b>@Élise</b>"},
		{"mail@33612345678", ""},
	}
	for _, c := range cases {
		got := ToHTML(c.in, names)
		want := strings.ReplaceAll(c.html, "&#34;", "&quot;")
		if got != want {
			t.Errorf("ToHTML(%q) = %q, want %q", c.in, got, want)
		}
	}
}

func TestToHTMLWithoutResolver(t *testing.T) {
	if got := ToHTML("@33612345678 *x*", nil); got != "@33612345678 <b>x</b>" {
		t.Errorf("got %q", got)
	}
}

func TestFromHTML(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", ""},
		{"plain", "plain"},
		{"<b>gras</b>", "*gras*"},
		{"<strong>gras</strong>", "*gras*"},
		{"<i>it</i> <em>em</em>", "_it_ _em_"},
		{"<s>a</s> <del>b</del> <strike>c</strike>", "~a~ ~b~ ~c~"},
		{"<u>souligné</u>", "souligné"},
		{"<code>x = 1</code>", "`x = 1`"},
		{"<pre>ligne 1\nligne 2</pre>", "```ligne 1\nligne 2```"},
		{"<pre><code class=\"language-go\">x := *p</code></pre>", "```x := *p```"},
		{"avant<pre>x</pre>après", "avant\n```x```\naprès"},
		{"<b> espacé </b>fin", "*espacé* fin"},
		{"<b>a<br>b</b>", "*a*\n*b*"},
		{"<b><i>tout</i></b>", "*_tout_*"},
		{"<blockquote>une<br>deux</blockquote>réponse", "> une\n> deux\nréponse"},
		{"<blockquote>\n<p>cité</p>\n</blockquote>\n<p>réponse</p>", "> cité\n\nréponse"},
		{"<p>un</p><p>deux</p>", "un\n\ndeux"},
		{"<div>un</div><div>deux</div>", "un\ndeux"},
		{"ligne<br/>ligne<br />ligne", "ligne\nligne\nligne"},
		{"a<br>\nb", "a\nb"},
		{"<a href=\"https://exemple.fr\">le site</a>", "le site (https://exemple.fr)"},
		{"<a href=\"https://exemple.fr\">https://exemple.fr</a>", "https://exemple.fr"},
		{"<a href='mailto:a@b.fr'>a@b.fr</a>", "a@b.fr"},
		{"<a href=\"https://matrix.to/#/@alice:tchap.fr\">Alice</a>: salut", "Alice: salut"},
		{"<a href=\"javascript:alert(1)\">clic</a>", "clic"},
		{"<a>sans lien</a>", "sans lien"},
		{"<ul><li>un</li><li>deux</li></ul>", "- un\n- deux"},
		{"<ol><li>un</li><li>deux</li></ol>", "1. un\n2. deux"},
		{"<ol start=\"3\"><li>trois</li></ol>", "3. trois"},
		{"<p>liste :</p><ul><li>a<ul><li>b</li></ul></li></ul>fin", "liste :\n- a\n  - b\nfin"},
		{"<mx-reply><blockquote><a href=\"x\">In reply to</a> cité</blockquote></mx-reply>réponse", "réponse"},
		{"<MX-REPLY>x</MX-REPLY>ok", "ok"},
		{"<ol>\n<li><p>paragraphe</p>\n</li>\n<li>b</li>\n</ol>", "1. paragraphe\n2. b"},
		{"<ul><li><pre>x</pre></li></ul>", "- \n```x```"},
		{"<blockquote>\n<p>un</p>\n<p>deux</p>\n</blockquote>\n", "> un\n> deux"},
		{"<table><tr><th>a</th><th>b</th></tr><tr><td>c</td><td>d</td></tr></table>", "a b\nc d"},
		{"<ul>\n<li>un</li>\n<li>deux</li>\n</ul>\n<p>après</p>\n", "- un\n- deux\n\naprès"},
		{"&lt;b&gt; &amp; &eacute;t&eacute; &#128512; &nbsp;", "<b> & été 😀 \u00a0"},
		{"<h1>Titre</h1>texte", "*Titre*\ntexte"},
		{"<img src=\"mxc://x\" alt=\":chat:\">", ":chat:"},
		{"<hr>", "―――"},
		{"<font color=\"red\">rouge</font>", "rouge"},
		{"<span data-mx-spoiler>secret</span>", "secret"},
		{"<script>alert(1)</script>ok", "ok"},
		{"<style>b{}</style>ok", "ok"},
		{"<!-- commentaire -->ok", "ok"},
		{"<!-- non fermé", ""},
		{"<b>non fermé", "*non fermé*"},
		{"</b>fermeture seule", "fermeture seule"},
		{"<b><i>mal</b> imbriqué</i>", "*_mal_* imbriqué"},
		{"a < b > c", "a < b > c"},
		{"1<2", "1<2"},
		{"<a href=\"x", "<a href=\"x"},
		{"<b", "<b"},
		{"<", "<"},
		{"<code><b>x</b></code>", "`x`"},
		{"<b>a <strong>b</strong> c</b>", "*a b c*"},
		{"<pre><pre>x</pre></pre>", "```x```"},
		{"<i><b>x</b></i>", "_*x*_"},
	}
	for _, c := range cases {
		if got := FromHTML(c.in); got != c.want {
			t.Errorf("FromHTML(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// Formatted WhatsApp text survives WhatsApp → HTML → WhatsApp.
func TestMarkupRoundTrip(t *testing.T) {
	cases := []string{
		"*gras*",
		"un *mot* et _un autre_, ~barré~ et `code`",
		"*_gras italique_*",
		"Élise a écrit :\n> *première* ligne\n> seconde ligne\nréponse ✅",
		"avant\n```\nfunc f() { *p = _x_ }\n```\naprès",
		"avant\n\n```x```\n\naprès",
		"*un*\n_deux_\n~trois~",
		"> citation\n\nrépondu",
		"lien https://example.com/a_b_c et *gras* 🎉",
		"`*littéral*` puis *gras*",
		"a < b & c > d *x*",
	}
	for _, c := range cases {
		h := ToHTML(c, nil)
		if h == "" {
			t.Errorf("ToHTML(%q) is plain", c)
			continue
		}
		if back := FromHTML(h); back != c {
			t.Errorf("round trip of %q: %q → %q", c, h, back)
		}
	}
}

// HTML in the SDK subset survives HTML → WhatsApp → HTML.
func TestHTMLRoundTrip(t *testing.T) {
	cases := []string{
		"<b>gras</b> et <i>italique</i>",
		"<s>barré</s> <code>x</code>",
		"<blockquote>cité<br>encore</blockquote>réponse",
		"<pre>bloc\nde code</pre>",
	}
	for _, c := range cases {
		if back := ToHTML(FromHTML(c), nil); back != c {
			t.Errorf("round trip of %q: %q → %q", c, FromHTML(c), back)
		}
	}
}

func FuzzToHTML(f *testing.F) {
	for _, s := range []string{"*a* _b_ ~c~ `d`", "```x```", "> q\n> r", "@33612345678 *x", "https://a.fr/_x_", "*_~`"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h := ToHTML(s, names)
		// Whatever the input, only the subset's tags come out.
		rest := h
		for {
			i := strings.IndexByte(rest, '<')
			if i < 0 {
				break
			}
			rest = rest[i:]
			ok := false
			for _, tag := range []string{"<b>", "</b>", "<i>", "</i>", "<s>", "</s>", "<code>", "</code>", "<pre>", "</pre>", "<blockquote>", "</blockquote>", "<br>"} {
				if strings.HasPrefix(rest, tag) {
					ok = true
				}
			}
			if !ok {
				t.Fatalf("ToHTML(%q) = %q: stray <", s, h)
			}
			rest = rest[1:]
		}
		_ = FromHTML(h)
	})
}

func FuzzFromHTML(f *testing.F) {
	for _, s := range []string{"<b>a</b>", "<mx-reply>x</mx-reply>y", "<a href='u'>t</a>", "<ol start=99999999999><li>x", "<pre><code>", "&#0;&#xffffff;", "<!--", "<a b=\"c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_ = FromHTML(s)
	})
}

// Hostile input of WhatsApp's largest message size (64 KiB) converts in
// linear time, not quadratic: a sender cannot stall the plugin.
func TestHostileSizes(t *testing.T) {
	const size = 65536
	fill := func(unit string) string { return strings.Repeat(unit, size/len(unit)) }
	start := time.Now()
	for _, s := range []string{fill("*a "), fill("_"), fill("*_~"), fill("@33612345678 "), fill("`a "), fill("> *x\n")} {
		ToHTML(s, names)
	}
	for _, s := range []string{fill("<b>"), fill("<blockquote>x"), fill("<p>"), fill("<mx-reply>"), fill("<a href='x'>"), fill("<ol><li>")} {
		FromHTML(s)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("hostile inputs took %v", d)
	}
}

// Any formatted WhatsApp text comes back unchanged from HTML, except what
// WhatsApp itself does not keep (white space around the message, carriage
// returns, invalid UTF-8) and code blocks, which come back on lines of
// their own.
func FuzzMarkupRoundTrip(f *testing.F) {
	for _, s := range []string{"*a* _b_ ~c~ `d`", "> q\n> r\ns", "*_x_*", "a\n *b*", "` x`", "un *mot* 🎉\n\n> cité"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		s = strings.Trim(s, " \n")
		if !utf8.ValidString(s) || strings.Contains(s, "```") || strings.Contains(s, "\r") {
			return
		}
		h := ToHTML(s, nil)
		if h == "" {
			return
		}
		if back := FromHTML(h); back != s {
			t.Fatalf("%q → %q → %q", s, h, back)
		}
	})
}

/* flame_svg: see flame_svg.h.
 *
 * The stacks are sorted frame by frame (';' ranks below every other byte, so
 * all stacks sharing a frame prefix sit together), which lets the tree be
 * built with one path of "current" nodes instead of a lookup per frame, and
 * leaves every node's children in name order. Nodes live in one array and
 * point at their names inside the caller's buffer. */
#include "cli/flame_svg.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAD_X_PX	 10
#define TOP_PX		 40 /* title */
#define SUBTITLE_PX	 18 /* a subtitle line under it */
#define BOTTOM_PX	 30 /* total line */
#define TEXT_PAD_PX	 3
#define CHAR_WIDTH_RATIO 0.59 /* average glyph width / font size, Verdana */
#define LABEL_MIN_CHARS	 3
#define VALUE_TEXT_MAX	 32
#define AMOUNT_TEXT_MAX	 96
#define NO_NODE		 UINT32_MAX

struct stack_line {
	const char *stack;
	size_t len;
	double value;
};

struct node {
	const char *name;
	size_t name_len;
	double value;
	uint32_t first_child, last_child, next_sibling;
};

struct tree {
	struct node *nodes;
	size_t n, cap;
};

struct render {
	FILE *out;
	const struct tree *tree;
	const char *unit;
	double total, scale;
	unsigned max_depth;
	unsigned top_px; /* where the tallest stack may reach */
};

static int rank(const char *s, size_t len, size_t i)
{
	if (i >= len)
		return -1;
	return s[i] == ';' ? 0 : (unsigned char)s[i] + 1;
}

static int stack_cmp(const void *pa, const void *pb)
{
	const struct stack_line *a = pa, *b = pb;

	for (size_t i = 0;; i++) {
		int ra = rank(a->stack, a->len, i), rb = rank(b->stack, b->len, i);

		if (ra != rb)
			return ra < rb ? -1 : 1;
		if (ra == -1)
			return 0;
	}
}

/* Splits the input into stack lines; 0, -EINVAL (*bad_line set), -ENOMEM. */
static int parse_lines(const char *text, size_t len, struct stack_line **ret, size_t *ret_n,
		       size_t *bad_line)
{
	struct stack_line *lines = NULL;
	size_t n = 0, cap = 0, line_no = 0, pos = 0;

	while (pos < len) {
		const char *line = text + pos, *nl = memchr(line, '\n', len - pos);
		size_t line_len = nl ? (size_t)(nl - line) : len - pos, sp;
		char number[VALUE_TEXT_MAX + 1], *end;
		double value;

		pos += line_len + (nl ? 1 : 0);
		line_no++;
		while (line_len > 0 && (line[line_len - 1] == '\r' || line[line_len - 1] == ' ' ||
					line[line_len - 1] == '\t'))
			line_len--;
		if (line_len == 0)
			continue;
		sp = line_len;
		while (sp > 0 && line[sp - 1] != ' ' && line[sp - 1] != '\t')
			sp--;
		if (sp == 0 || line_len - sp > VALUE_TEXT_MAX)
			goto bad;
		memcpy(number, line + sp, line_len - sp);
		number[line_len - sp] = '\0';
		errno = 0;
		value = strtod(number, &end);
		if (*end || end == number || errno || !isfinite(value) || value < 0)
			goto bad;
		while (sp > 0 && (line[sp - 1] == ' ' || line[sp - 1] == '\t'))
			sp--;
		if (sp == 0)
			goto bad;
		if (value == 0)
			continue;
		if (n == cap) {
			size_t new_cap = cap ? cap * 2 : 256;
			struct stack_line *grown = realloc(lines, new_cap * sizeof(*lines));

			if (!grown) {
				free(lines);
				return -ENOMEM;
			}
			lines = grown;
			cap = new_cap;
		}
		lines[n++] = (struct stack_line){line, sp, value};
		continue;
	bad:
		free(lines);
		if (bad_line)
			*bad_line = line_no;
		return -EINVAL;
	}
	*ret = lines;
	*ret_n = n;
	return 0;
}

static int tree_add(struct tree *t, uint32_t parent, const char *name, size_t name_len,
		    uint32_t *ret)
{
	struct node *node;

	if (t->n >= FLAME_SVG_MAX_NODES)
		return -E2BIG;
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 1024;
		struct node *grown = realloc(t->nodes, cap * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		t->nodes = grown;
		t->cap = cap;
	}
	node = &t->nodes[t->n];
	*node = (struct node){name, name_len, 0, NO_NODE, NO_NODE, NO_NODE};
	if (parent != NO_NODE) {
		struct node *p = &t->nodes[parent];

		if (p->last_child == NO_NODE)
			p->first_child = (uint32_t)t->n;
		else
			t->nodes[p->last_child].next_sibling = (uint32_t)t->n;
		p->last_child = (uint32_t)t->n;
	}
	*ret = (uint32_t)t->n++;
	return 0;
}

/* Merges sorted stacks into a tree rooted at node 0 ("all"). */
static int tree_build(struct tree *t, const struct stack_line *lines, size_t n)
{
	uint32_t path[FLAME_SVG_MAX_DEPTH];
	size_t path_len = 0;
	uint32_t root;
	int err;

	err = tree_add(t, NO_NODE, "all", 3, &root);
	if (err)
		return err;
	for (size_t i = 0; i < n; i++) {
		const char *s = lines[i].stack, *end = s + lines[i].len;
		size_t depth = 0;

		t->nodes[root].value += lines[i].value;
		while (s <= end && depth < FLAME_SVG_MAX_DEPTH) {
			const char *semi = memchr(s, ';', (size_t)(end - s));
			size_t flen = semi ? (size_t)(semi - s) : (size_t)(end - s);
			uint32_t id;

			if (depth < path_len && t->nodes[path[depth]].name_len == flen &&
			    memcmp(t->nodes[path[depth]].name, s, flen) == 0) {
				id = path[depth];
			} else {
				err = tree_add(t, depth ? path[depth - 1] : root, s, flen, &id);
				if (err)
					return err;
				path[depth] = id;
				path_len = depth + 1;
			}
			t->nodes[id].value += lines[i].value;
			depth++;
			if (!semi)
				break;
			s = semi + 1;
		}
		path_len = depth;
	}
	return 0;
}

static unsigned visible_depth(const struct render *r, uint32_t id, unsigned depth)
{
	unsigned deepest = depth;

	for (uint32_t c = r->tree->nodes[id].first_child; c != NO_NODE;
	     c = r->tree->nodes[c].next_sibling) {
		if (r->tree->nodes[c].value * r->scale < FLAME_SVG_MIN_FRAME_PX)
			continue;
		unsigned d = visible_depth(r, c, depth + 1);

		if (d > deepest)
			deepest = d;
	}
	return deepest;
}

/* Decodes one UTF-8 sequence at s (n bytes left): its length when valid and
 * not a control character, else 0. */
static size_t utf8_valid_len(const unsigned char *s, size_t n)
{
	size_t len;

	if (s[0] < 0x20 || s[0] == 0x7f)
		return 0;
	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xC2 && s[0] <= 0xDF)
		len = 2;
	else if (s[0] >= 0xE0 && s[0] <= 0xEF)
		len = 3;
	else if (s[0] >= 0xF0 && s[0] <= 0xF4)
		len = 4;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++)
		if ((s[i] & 0xC0) != 0x80)
			return 0;
	if (len == 2 && s[1] <= 0x9F && s[0] == 0xC2)
		return 0; /* C1 control */
	if ((s[0] == 0xE0 && s[1] < 0xA0) || (s[0] == 0xF0 && s[1] < 0x90) ||
	    (s[0] == 0xF4 && s[1] > 0x8F) || (s[0] == 0xED && s[1] > 0x9F))
		return 0; /* overlong, > U+10FFFF, surrogates */
	return len;
}

/* Writes up to `n` bytes of s as XML text; returns the count of characters
 * written (code points), so callers can fit labels. */
static size_t xml_write(FILE *out, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t chars = 0;

	for (size_t i = 0; i < n; chars++) {
		size_t len = utf8_valid_len(p + i, n - i);

		if (len == 0) {
			fputc('?', out);
			i++;
			continue;
		}
		switch (p[i]) {
		case '&':
			fputs("&amp;", out);
			break;
		case '<':
			fputs("&lt;", out);
			break;
		case '>':
			fputs("&gt;", out);
			break;
		case '"':
			fputs("&quot;", out);
			break;
		case '\'':
			fputs("&apos;", out);
			break;
		default:
			fwrite(p + i, 1, len, out);
		}
		i += len;
	}
	return chars;
}

/* Bytes of the first `chars` characters of s (UTF-8 aware, n bytes). */
static size_t prefix_bytes(const char *s, size_t n, size_t chars)
{
	size_t i = 0;

	while (i < n && chars > 0) {
		size_t len = utf8_valid_len((const unsigned char *)s + i, n - i);

		i += len ? len : 1;
		chars--;
	}
	return i;
}

static size_t char_count(const char *s, size_t n)
{
	size_t chars = 0;

	for (size_t i = 0; i < n; chars++) {
		size_t len = utf8_valid_len((const unsigned char *)s + i, n - i);

		i += len ? len : 1;
	}
	return chars;
}

/* "37 samples", or for nanoseconds a readable time: "812 ms", "1.25 s". */
static void format_amount(double v, const char *unit, char *buf, size_t n)
{
	if (strcmp(unit, "ns") == 0 && v >= 1e3) {
		if (v >= 1e9)
			snprintf(buf, n, "%.3g s", v / 1e9);
		else if (v >= 1e6)
			snprintf(buf, n, "%.3g ms", v / 1e6);
		else
			snprintf(buf, n, "%.3g \xc2\xb5s", v / 1e3);
	} else if (v == trunc(v) && v < 1e15) {
		snprintf(buf, n, "%.0f %s", v, unit);
	} else {
		snprintf(buf, n, "%.6g %s", v, unit);
	}
}

void flame_svg_color(const char *name, size_t name_len, char *buf, size_t buf_len)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	if (name_len == 9 && memcmp(name, "[unknown]", 9) == 0) {
		snprintf(buf, buf_len, "rgb(190,190,190)");
		return;
	}
	for (size_t i = 0; i < name_len; i++) {
		h ^= (unsigned char)name[i];
		h *= 16777619u;
	}
	snprintf(buf, buf_len, "rgb(%u,%u,%u)", 205 + h % 50, (h >> 8) % 230, (h >> 16) % 55);
}

static void draw_frame(const struct render *r, uint32_t id, double offset, unsigned depth)
{
	const struct node *node = &r->tree->nodes[id];
	double x = PAD_X_PX + offset * r->scale, w = node->value * r->scale;
	double y = r->top_px + (double)(r->max_depth - depth) * FLAME_SVG_FRAME_HEIGHT_PX;
	size_t name_len =
	    node->name_len < FLAME_SVG_MAX_FRAME_LEN ? node->name_len : FLAME_SVG_MAX_FRAME_LEN;
	size_t fit =
	    (size_t)fmax(0, (w - 2 * TEXT_PAD_PX) / (FLAME_SVG_FONT_SIZE_PX * CHAR_WIDTH_RATIO));
	char color[32], amount[AMOUNT_TEXT_MAX];

	if (id == 0)
		snprintf(color, sizeof(color), "rgb(220,220,220)");
	else
		flame_svg_color(node->name, name_len, color, sizeof(color));
	format_amount(node->value, r->unit, amount, sizeof(amount));
	fputs("<g><title>", r->out);
	xml_write(r->out, node->name, name_len);
	fputs(" (", r->out);
	xml_write(r->out, amount, strlen(amount));
	fprintf(r->out, ", %.2f%%)</title>", 100.0 * node->value / r->total);
	fprintf(r->out,
		"<rect x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"%d\" fill=\"%s\" "
		"rx=\"2\"/>",
		x, y, w, FLAME_SVG_FRAME_HEIGHT_PX - 1, color);
	if (fit >= LABEL_MIN_CHARS) {
		fprintf(r->out, "<text x=\"%.2f\" y=\"%.1f\">", x + TEXT_PAD_PX, y + 11.5);
		if (char_count(node->name, name_len) <= fit) {
			xml_write(r->out, node->name, name_len);
		} else {
			xml_write(r->out, node->name, prefix_bytes(node->name, name_len, fit - 2));
			fputs("..", r->out);
		}
		fputs("</text>", r->out);
	}
	fputs("</g>\n", r->out);
}

static void draw_tree(const struct render *r, uint32_t id, double offset, unsigned depth)
{
	draw_frame(r, id, offset, depth);
	for (uint32_t c = r->tree->nodes[id].first_child; c != NO_NODE;
	     c = r->tree->nodes[c].next_sibling) {
		if (r->tree->nodes[c].value * r->scale >= FLAME_SVG_MIN_FRAME_PX)
			draw_tree(r, c, offset, depth + 1);
		offset += r->tree->nodes[c].value;
	}
}

static void draw(struct render *r, unsigned width, const char *title, const char *subtitle)
{
	unsigned height;
	char amount[AMOUNT_TEXT_MAX];

	r->max_depth = r->total > 0 ? visible_depth(r, 0, 0) : 0;
	r->top_px = TOP_PX + (subtitle ? SUBTITLE_PX : 0);
	height = r->top_px + (r->max_depth + 1) * FLAME_SVG_FRAME_HEIGHT_PX + BOTTOM_PX;
	fprintf(r->out,
		"<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n"
		"<svg version=\"1.1\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%u\" "
		"height=\"%u\" viewBox=\"0 0 %u %u\">\n"
		"<style>text { font-family: Verdana, sans-serif; font-size: %dpx; fill: #000; "
		"pointer-events: none; } rect:hover { stroke: #000; stroke-width: 0.5; }</style>\n"
		"<rect x=\"0\" y=\"0\" width=\"%u\" height=\"%u\" fill=\"#f8f8f4\"/>\n"
		"<text x=\"%.1f\" y=\"24\" text-anchor=\"middle\" style=\"font-size: 17px\">",
		width, height, width, height, FLAME_SVG_FONT_SIZE_PX, width, height, width / 2.0);
	xml_write(r->out, title, strlen(title));
	fputs("</text>\n", r->out);
	if (subtitle) {
		fprintf(r->out,
			"<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" style=\"fill: #555\">",
			width / 2.0, TOP_PX + 2);
		xml_write(r->out, subtitle, strlen(subtitle));
		fputs("</text>\n", r->out);
	}
	if (r->total > 0) {
		draw_tree(r, 0, 0, 0);
		format_amount(r->total, r->unit, amount, sizeof(amount));
		fprintf(r->out, "<text x=\"%d\" y=\"%u\">total: ", PAD_X_PX, height - 10);
		xml_write(r->out, amount, strlen(amount));
		fputs("</text>\n", r->out);
	} else {
		fprintf(r->out,
			"<text x=\"%.1f\" y=\"%u\" text-anchor=\"middle\">no samples</text>\n",
			width / 2.0, r->top_px + FLAME_SVG_FRAME_HEIGHT_PX);
	}
	fputs("</svg>\n", r->out);
}

int flame_svg_render(const char *folded, size_t len, const struct flame_svg_options *opts,
		     char **ret_svg, size_t *ret_len, size_t *ret_bad_line)
{
	unsigned width = opts && opts->width_px ? opts->width_px : FLAME_SVG_DEFAULT_WIDTH_PX;
	struct stack_line *lines = NULL;
	struct tree tree = {0};
	struct render r = {0};
	char *svg = NULL;
	size_t n_lines = 0, svg_len = 0;
	int err;

	if (width < FLAME_SVG_MIN_WIDTH_PX || width > FLAME_SVG_MAX_WIDTH_PX)
		return -EINVAL;
	err = parse_lines(folded, len, &lines, &n_lines, ret_bad_line);
	if (err)
		return err;
	if (n_lines)
		qsort(lines, n_lines, sizeof(*lines), stack_cmp);
	err = tree_build(&tree, lines, n_lines);
	if (err)
		goto cleanup;
	r.tree = &tree;
	r.unit = opts && opts->unit ? opts->unit : "samples";
	r.total = tree.nodes[0].value;
	r.scale = r.total > 0 ? (width - 2.0 * PAD_X_PX) / r.total : 0;
	r.out = open_memstream(&svg, &svg_len);
	if (!r.out) {
		err = -ENOMEM;
		goto cleanup;
	}
	draw(&r, width, opts && opts->title ? opts->title : "Flame graph",
	     opts ? opts->subtitle : NULL);
	if (ferror(r.out))
		err = -ENOMEM;
	if (fclose(r.out) != 0)
		err = -ENOMEM;
	if (err) {
		free(svg);
		goto cleanup;
	}
	*ret_svg = svg;
	*ret_len = svg_len;
cleanup:
	free(tree.nodes);
	free(lines);
	return err;
}

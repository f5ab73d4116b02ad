/* flame_svg: renders folded stacks ("main;work;spin 42" per line) into a
 * self-contained flame graph SVG — no scripts, no external resources.
 *
 * Owns: parsing the folded text (strictly: a bad line is an error naming its
 * number), merging stacks into a frame tree, and drawing it root at the
 * bottom: one rectangle per frame with a width proportional to its value,
 * labels cut to fit with "..", a <title> tooltip per frame with its value and
 * share of the total, and a fill color derived from a hash of the frame name
 * (the same name gets the same color in every graph). Output is
 * deterministic: the same input gives the same bytes. Frame names are
 * escaped for XML; control characters and invalid UTF-8 become '?'.
 * Does not own: fetching the stacks or writing the file.
 */
#ifndef CONTPROF_CLI_FLAME_SVG_H
#define CONTPROF_CLI_FLAME_SVG_H

#include <stddef.h>

#define FLAME_SVG_DEFAULT_WIDTH_PX 1200
#define FLAME_SVG_MIN_WIDTH_PX	   200
#define FLAME_SVG_MAX_WIDTH_PX	   20000
#define FLAME_SVG_FRAME_HEIGHT_PX  16
#define FLAME_SVG_FONT_SIZE_PX	   12
#define FLAME_SVG_MIN_FRAME_PX	   0.1	   /* narrower frames are not drawn */
#define FLAME_SVG_MAX_DEPTH	   1024	   /* deeper frames fold into the last */
#define FLAME_SVG_MAX_NODES	   2000000 /* distinct (path, frame) pairs */
#define FLAME_SVG_MAX_FRAME_LEN	   4096	   /* bytes of one frame name */

struct flame_svg_options {
	const char *title;    /* NULL: "Flame graph" */
	const char *subtitle; /* a line under the title, or NULL */
	const char *unit;     /* what values count, e.g. "samples", "ns"; NULL: "samples" */
	unsigned width_px;    /* 0: FLAME_SVG_DEFAULT_WIDTH_PX */
};

/* Renders `len` bytes of folded stacks. Empty lines are skipped; every other
 * line is "frame;frame;... VALUE" with VALUE a non-negative number.
 * On success returns 0 and stores the SVG (malloc'd, NUL-terminated) in
 * *ret_svg and its length in *ret_len. Returns -EINVAL for a malformed line
 * (its 1-based number in *ret_bad_line when not NULL) or a width out of range,
 * -E2BIG past FLAME_SVG_MAX_NODES, -ENOMEM. Input with no samples renders an
 * SVG that says so. */
int flame_svg_render(const char *folded, size_t len, const struct flame_svg_options *opts,
		     char **ret_svg, size_t *ret_len, size_t *ret_bad_line);

/* The fill color of a frame name, "rgb(r,g,b)" into buf (>= 24 bytes). */
void flame_svg_color(const char *name, size_t name_len, char *buf, size_t buf_len);

#endif

/*
 * assets.h — the dashboard's files (src/httpd/dashboard/), embedded into
 * perfopt-httpd at build time (embed-assets.sh writes the table) and
 * looked up by path (assets.c).  Pure C.
 */
#ifndef PERFOPT_HTTPD_ASSETS_H
#define PERFOPT_HTTPD_ASSETS_H

#include <stddef.h>

typedef struct HdAsset
{
	const char *path;			/* "/dashboard", "/dashboard/dashboard.js" */
	const char *content_type;
	const unsigned char *data;
	size_t		len;
} HdAsset;

/* the generated table */
extern const HdAsset hd_assets[];
extern const int hd_nassets;

/*
 * The asset served at a URL path (one trailing '/' tolerated); NULL when
 * there is none.
 */
extern const HdAsset *hd_asset_find(const char *path);

/*
 * Content-Security-Policy of the dashboard's page and assets: only its
 * own files, no inline script or style, no framing, no form posts.
 */
#define HD_CSP_PAGE "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; " \
	"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
/* of every other answer (JSON, text): nothing is to be loaded or framed */
#define HD_CSP_API "default-src 'none'; frame-ancestors 'none'"

#endif							/* PERFOPT_HTTPD_ASSETS_H */

/*
 * assets.c — finds the dashboard's embedded files by URL path (the table
 * is generated at build time by embed-assets.sh from
 * src/httpd/dashboard/).
 */
#include "assets.h"

#include <string.h>

const HdAsset *
hd_asset_find(const char *path)
{
	size_t		n;

	if (path == NULL)
		return NULL;
	n = strnlen(path, 257);
	if (n > 256)
		return NULL;
	if (n > 1 && path[n - 1] == '/')
		n--;
	for (int i = 0; i < hd_nassets; i++)
		if (strlen(hd_assets[i].path) == n && memcmp(hd_assets[i].path, path, n) == 0)
			return &hd_assets[i];
	return NULL;
}

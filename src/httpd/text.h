/*
 * text.h — perfopt-httpd's text checks and JSON string escaping (text.c):
 * what may be sent to the database and what goes inside a JSON string of
 * an error body or a log line.  Pure C.
 */
#ifndef PERFOPT_HTTPD_TEXT_H
#define PERFOPT_HTTPD_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/*
 * s[0..len) is valid UTF-8 (no overlong forms, surrogates or code points
 * above U+10FFFF) and has no NUL byte: what may be sent to the database,
 * whose encoding the shim's sessions set to UTF8.  NULL is valid only
 * with len 0.
 */
extern bool hd_utf8_valid(const char *s, size_t len);

/*
 * s escaped for the inside of a JSON string into out (size bytes), always
 * NUL-terminated when size > 0.  Invalid UTF-8 becomes \ufffd; truncation
 * never splits an escape or a character.  NULL s: "".
 */
extern void hd_json_escape(const char *s, char *out, size_t size);

#endif							/* PERFOPT_HTTPD_TEXT_H */

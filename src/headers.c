/*
 * headers.c
 *		WWW-Authenticate (RFC 7235) and Link (RFC 8288) values as registries
 *		send them.  Only what the distribution protocol uses is read: the
 *		first challenge's realm, service and scope; the "next" link.
 */
#include "headers.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

static const char *
skip_space(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

static bool
is_token_char(char c)
{
	return c != '\0' && (isalnum((unsigned char) c) || strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* A token or quoted string at p into out; returns the position after it. */
static const char *
read_value(const char *p, char *out, size_t size, bool *ok)
{
	size_t		n = 0;

	*ok = true;
	if (*p == '"')
	{
		p++;
		while (*p && *p != '"')
		{
			if (*p == '\\' && p[1])
				p++;
			if (n + 1 >= size)
			{
				*ok = false;
				return p;
			}
			out[n++] = *p++;
		}
		if (*p != '"')
			*ok = false;
		else
			p++;
	}
	else
	{
		while (is_token_char(*p) || *p == '/' || *p == ':' || *p == '=' || *p == '?')
		{
			if (n + 1 >= size)
			{
				*ok = false;
				return p;
			}
			out[n++] = *p++;
		}
	}
	out[n] = '\0';
	return p;
}

bool
parse_challenge(const char *header, Challenge *out)
{
	const char *p = skip_space(header);
	size_t		n = 0;

	memset(out, 0, sizeof(*out));
	while (is_token_char(*p))
	{
		if (n + 1 >= sizeof(out->scheme))
			return false;
		out->scheme[n++] = *p++;
	}
	if (n == 0)
		return false;
	for (;;)
	{
		char		key[32];
		char		value[CHALLENGE_FIELD_MAX];
		char	   *target = NULL;
		bool		ok;

		p = skip_space(p);
		if (*p == '\0')
			return true;
		n = 0;
		while (is_token_char(*p))
		{
			if (n + 1 >= sizeof(key))
				return false;
			key[n++] = *p++;
		}
		key[n] = '\0';
		p = skip_space(p);
		if (n == 0 || *p != '=')
			/* a second challenge ("Bearer ..., Basic ...") ends the first */
			return n > 0 && out->realm[0] != '\0';
		p = read_value(skip_space(p + 1), value, sizeof(value), &ok);
		if (!ok)
			return false;
		if (strcasecmp(key, "realm") == 0)
			target = out->realm;
		else if (strcasecmp(key, "service") == 0)
			target = out->service;
		else if (strcasecmp(key, "scope") == 0)
			target = out->scope;
		if (target)
			strcpy(target, value);
		p = skip_space(p);
		if (*p == ',')
			p++;
		else if (*p != '\0')
			return false;
	}
}

bool
parse_next_link(const char *header, char *out, size_t out_size)
{
	const char *p = header;

	while (p && *p)
	{
		const char *open = strchr(p, '<');
		const char *close;
		const char *end;
		const char *rel;

		if (open == NULL || (close = strchr(open, '>')) == NULL)
			return false;
		end = strchr(close, ',');
		if (end == NULL)
			end = close + strlen(close);
		/* the parameters of this link: look for rel="next" or rel=next */
		for (rel = close; rel < end; rel++)
		{
			if (strncasecmp(rel, "rel=", 4) == 0)
			{
				const char *v = rel + 4;
				bool		quoted = *v == '"';

				if (quoted)
					v++;
				if (strncasecmp(v, "next", 4) == 0 &&
					(quoted ? v[4] == '"' || v[4] == ' ' : !is_token_char(v[4])))
				{
					size_t		len = close - open - 1;

					if (len == 0 || len + 1 > out_size)
						return false;
					memcpy(out, open + 1, len);
					out[len] = '\0';
					return true;
				}
			}
		}
		p = *end ? end + 1 : end;
	}
	return false;
}

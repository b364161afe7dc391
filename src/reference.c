/*
 * reference.c
 *		The reference grammar of the distribution library (reference.go,
 *		regexp.go, normalize.go at v0.6.0+), written as a hand matcher.
 *
 * The library matches one anchored regular expression whose optional
 * domain is tried first.  A domain can contain no "/" and must be followed
 * by one, so the only candidate is the text before the first "/": if it is
 * a valid domain and the rest parses, that is the match; otherwise the whole
 * name is a path.  Everything else in the grammar is deterministic, so this
 * matcher accepts exactly the regular expression's language with the same
 * captures, without backtracking and in linear time.
 */
#include "reference.h"

#include <string.h>

/* Where the captures of one successful match are. */
typedef struct RefMatch
{
	size_t		domain_len;		/* domain is s[0, domain_len) */
	size_t		path_start;
	size_t		path_len;
	size_t		tag_start;
	size_t		tag_len;
	size_t		digest_start;
	size_t		digest_len;		/* 0: no digest */
} RefMatch;

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool
is_upper(char c)
{
	return c >= 'A' && c <= 'Z';
}

static bool
is_alpha(char c)
{
	return is_upper(c) || (c >= 'a' && c <= 'z');
}

static bool
is_alnum(char c)
{
	return is_alpha(c) || is_digit(c);
}

static bool
is_xdigit(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool
is_word(char c)
{
	return is_alnum(c) || c == '_';
}

static const char *
find_char(const char *s, size_t len, char c)
{
	return len > 0 ? memchr(s, c, len) : NULL;
}

static bool
has_upper(const char *s, size_t len)
{
	size_t		i;

	for (i = 0; i < len; i++)
		if (is_upper(s[i]))
			return true;
	return false;
}

/* Quote a character for a message, showing non-printable bytes as hex. */
static const char *
show_char(char c, char *buf)
{
	unsigned char uc = (unsigned char) c;

	if (uc >= 0x20 && uc < 0x7f)
	{
		buf[0] = c;
		buf[1] = '\0';
	}
	else
	{
		static const char hex[] = "0123456789abcdef";

		buf[0] = '\\';
		buf[1] = 'x';
		buf[2] = hex[uc >> 4];
		buf[3] = hex[uc & 0x0f];
		buf[4] = '\0';
	}
	return buf;
}

/* domain-component ("." domain-component)*, each [a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])? */
static bool
check_host_name(const char *s, size_t len, ParseError *err)
{
	size_t		start = 0;
	size_t		i;

	for (i = 0; i <= len; i++)
	{
		if (i == len || s[i] == '.')
		{
			if (i == start || s[start] == '-' || s[i - 1] == '-')
			{
				parse_error_set(err, "The registry host \"%.*s\" is not valid: each dot-separated label must be letters, digits and inner hyphens.",
								(int) len, s);
				return false;
			}
			start = i + 1;
		}
		else if (!is_alnum(s[i]) && s[i] != '-')
		{
			char		cb[5];

			parse_error_set(err, "The registry host \"%.*s\" contains \"%s\", which a host name may not contain.",
							(int) len, s, show_char(s[i], cb));
			return false;
		}
	}
	return true;
}

/* host [":" port], host = domain-name | "[" [a-fA-F0-9:]+ "]" */
static bool
check_domain(const char *s, size_t len, ParseError *err)
{
	size_t		host_len;
	size_t		i;

	if (len > 0 && s[0] == '[')
	{
		const char *close = find_char(s, len, ']');

		if (close == NULL || close == s + 1)
		{
			parse_error_set(err, "The registry host \"%.*s\" is not valid: an IPv6 address must be written in brackets.",
							(int) len, s);
			return false;
		}
		host_len = close - s + 1;
		for (i = 1; i < host_len - 1; i++)
			if (!is_xdigit(s[i]) && s[i] != ':')
			{
				parse_error_set(err, "The registry host \"%.*s\" is not valid: an IPv6 address may hold only hexadecimal digits and colons (no zone, no embedded IPv4).",
								(int) len, s);
				return false;
			}
	}
	else
	{
		const char *colon = find_char(s, len, ':');

		host_len = colon ? (size_t) (colon - s) : len;
		if (!check_host_name(s, host_len, err))
			return false;
	}
	if (host_len == len)
		return true;
	if (s[host_len] != ':' || host_len + 1 == len)
	{
		parse_error_set(err, "The registry \"%.*s\" is not valid: a port must follow the host after one \":\".",
						(int) len, s);
		return false;
	}
	for (i = host_len + 1; i < len; i++)
		if (!is_digit(s[i]))
		{
			parse_error_set(err, "The port of registry \"%.*s\" is not a number.",
							(int) len, s);
			return false;
		}
	return true;
}

/* Says why the repository path s stops matching at position i. */
static void
path_error(const char *s, size_t len, size_t i, ParseError *err)
{
	char		cb[5];

	if (i == len || s[i] == '/')
		parse_error_set(err, "The repository path \"%.*s\" has an empty component or ends in a separator.",
						(int) len, s);
	else if (s[i] == '.' || s[i] == '_' || s[i] == '-')
		parse_error_set(err, "Each component of the repository path \"%.*s\" must start and end with a lowercase letter or digit.",
						(int) len, s);
	else if (is_upper(s[i]))
		parse_error_set(err, "The repository path \"%.*s\" must be lowercase.",
						(int) len, s);
	else
		parse_error_set(err, "The repository path \"%.*s\" contains \"%s\"; only lowercase letters, digits, \"/\" and the separators \".\", \"_\", \"__\" and \"-\" are allowed.",
						(int) len, s, show_char(s[i], cb));
}

/*
 * path-component ("/" path-component)*, path-component =
 * [a-z0-9]+ ((?:[._]|__|[-]+) [a-z0-9]+)*.  With fold, upper case letters
 * count as lower case (the library's retry on the lower-cased input).
 */
static bool
check_path(const char *s, size_t len, bool fold, ParseError *err)
{
	size_t		i = 0;

	if (len == 0)
	{
		parse_error_set(err, "The repository name is empty.");
		return false;
	}
	for (;;)
	{
		/* one component: alnum runs joined by separators */
		for (;;)
		{
			size_t		run = i;
			size_t		sep_start;
			size_t		dots = 0,
						unders = 0,
						dashes = 0;

			while (i < len && (is_digit(s[i]) || (s[i] >= 'a' && s[i] <= 'z') ||
							   (fold && is_upper(s[i]))))
				i++;
			if (i == run)
			{
				path_error(s, len, i, err);
				return false;
			}
			sep_start = i;
			while (i < len && (s[i] == '.' || s[i] == '_' || s[i] == '-'))
			{
				dots += s[i] == '.';
				unders += s[i] == '_';
				dashes += s[i] == '-';
				i++;
			}
			if (i == sep_start)
				break;
			if (!((dots == 1 && unders + dashes == 0) ||
				  (unders >= 1 && unders <= 2 && dots + dashes == 0) ||
				  (dashes >= 1 && dots + unders == 0)))
			{
				parse_error_set(err, "\"%.*s\" is not a valid separator in the repository path: use one \".\", one or two \"_\", or one or more \"-\".",
								(int) (i - sep_start), s + sep_start);
				return false;
			}
		}
		if (i == len)
			return true;
		if (s[i] != '/')
		{
			path_error(s, len, i, err);
			return false;
		}
		i++;					/* the "/" */
	}
}

bool
ref_tag_valid(const char *s, size_t len, ParseError *err)
{
	size_t		i;

	if (len == 0)
	{
		parse_error_set(err, "The tag is empty.");
		return false;
	}
	if (len > REF_TAG_MAX)
	{
		parse_error_set(err, "The tag is %zu characters long; at most %d are allowed.",
						len, REF_TAG_MAX);
		return false;
	}
	if (!is_word(s[0]))
	{
		parse_error_set(err, "A tag must start with a letter, digit or \"_\".");
		return false;
	}
	for (i = 1; i < len; i++)
		if (!is_word(s[i]) && s[i] != '.' && s[i] != '-')
		{
			parse_error_set(err, "A tag may contain only letters, digits, \"_\", \".\" and \"-\".");
			return false;
		}
	return true;
}

/* [A-Za-z][A-Za-z0-9]*([-_+.][A-Za-z][A-Za-z0-9]*)* ":" [0-9a-fA-F]{32,} */
static bool
check_digest_syntax(const char *s, size_t len, ParseError *err)
{
	size_t		i = 0;
	size_t		hex_start;

	for (;;)
	{
		if (i >= len || !is_alpha(s[i]))
			goto bad;
		while (i < len && is_alnum(s[i]))
			i++;
		if (i < len && (s[i] == '-' || s[i] == '_' || s[i] == '+' || s[i] == '.'))
		{
			i++;
			continue;
		}
		break;
	}
	if (i >= len || s[i] != ':')
		goto bad;
	hex_start = ++i;
	while (i < len && is_xdigit(s[i]))
		i++;
	if (i == len && len - hex_start >= 32)
		return true;
bad:
	parse_error_set(err, "The digest after \"@\" must have the form algorithm:hex, with at least 32 hexadecimal digits.");
	return false;
}

/* path [":" tag] ["@" digest], from position start to the end */
static bool
match_remote(const char *s, size_t len, size_t start, bool fold,
			 RefMatch *m, ParseError *err)
{
	size_t		i = start;

	while (i < len && s[i] != ':' && s[i] != '@')
		i++;
	if (!check_path(s + start, i - start, fold, err))
		return false;
	m->path_start = start;
	m->path_len = i - start;
	m->tag_start = m->tag_len = m->digest_start = m->digest_len = 0;
	if (i < len && s[i] == ':')
	{
		size_t		tag_start = ++i;

		while (i < len && s[i] != '@')
			i++;
		if (!ref_tag_valid(s + tag_start, i - tag_start, err))
			return false;
		m->tag_start = tag_start;
		m->tag_len = i - tag_start;
	}
	if (i < len)
	{
		/* s[i] is '@' */
		if (!check_digest_syntax(s + i + 1, len - i - 1, err))
			return false;
		m->digest_start = i + 1;
		m->digest_len = len - i - 1;
	}
	return true;
}

static bool
match_reference(const char *s, size_t len, bool fold, RefMatch *m,
				ParseError *err)
{
	const char *slash = find_char(s, len, '/');
	size_t		cand_len = slash ? (size_t) (slash - s) : 0;
	ParseError	domain_err;

	if (slash != NULL && check_domain(s, cand_len, &domain_err))
	{
		m->domain_len = cand_len;
		return match_remote(s, len, cand_len + 1, fold, m, err);
	}
	m->domain_len = 0;
	if (match_remote(s, len, 0, fold, m, err))
		return true;
	/* A first component with a dot, port or brackets was meant as a registry. */
	if (err != NULL && slash != NULL &&
		(find_char(s, cand_len, '.') || find_char(s, cand_len, ':') ||
		 find_char(s, cand_len, '[')))
		*err = domain_err;
	return false;
}

bool
ref_parse(const char *s, size_t len, ImageRefParts *out, ParseError *err)
{
	RefMatch	m;

	if (len == 0)
	{
		parse_error_set(err, "The reference is empty.");
		return false;
	}
	if (!match_reference(s, len, false, &m, err))
	{
		/* The library reports upper case when the lower-cased input parses. */
		if (has_upper(s, len) && match_reference(s, len, true, &m, NULL))
			parse_error_set(err, "The repository name must be lowercase.");
		return false;
	}
	if (m.path_len > REF_PATH_MAX)
	{
		parse_error_set(err, "The repository path is %zu bytes long; at most %d are allowed.",
						m.path_len, REF_PATH_MAX);
		return false;
	}
	out->domain = s;
	out->domain_len = m.domain_len;
	out->path = s + m.path_start;
	out->path_len = m.path_len;
	out->tag = s + m.tag_start;
	out->tag_len = m.tag_len;
	out->has_digest = m.digest_len > 0;
	if (out->has_digest &&
		!digest_parse(s + m.digest_start, m.digest_len, &out->digest, err))
		return false;
	return true;
}

/* "https://..." and the like: a URL given where a reference belongs */
static bool
has_scheme(const char *s, size_t len)
{
	size_t		i;

	for (i = 0; i + 2 < len; i++)
		if (s[i] == ':' && s[i + 1] == '/' && s[i + 2] == '/')
			return true;
	return false;
}

static bool
is_hex_identifier(const char *s, size_t len)
{
	size_t		i;

	if (len != 64)
		return false;
	for (i = 0; i < len; i++)
		if (!is_digit(s[i]) && !(s[i] >= 'a' && s[i] <= 'f'))
			return false;
	return true;
}

static bool
equals(const char *s, size_t len, const char *lit)
{
	return strlen(lit) == len && memcmp(s, lit, len) == 0;
}

bool
ref_parse_normalized(const char *s, size_t len, char *scratch,
					 ImageRefParts *out, ParseError *err)
{
	const char *slash = find_char(s, len, '/');
	const char *domain = REF_DEFAULT_DOMAIN;
	size_t		domain_len = strlen(REF_DEFAULT_DOMAIN);
	const char *rest = s;
	size_t		rest_len = len;
	bool		library = false;
	const char *colon;
	size_t		remote_len;
	size_t		pos = 0;

	if (len == 0)
	{
		parse_error_set(err, "The reference is empty.");
		return false;
	}
	if (is_hex_identifier(s, len))
	{
		parse_error_set(err, "A string of 64 hexadecimal digits is an image ID, not a repository name.");
		return false;
	}
	if (slash != NULL)
	{
		size_t		first_len = slash - s;

		if (equals(s, first_len, "index.docker.io"))
		{
			rest = slash + 1;
			rest_len = len - first_len - 1;
		}
		else if (equals(s, first_len, "localhost") ||
				 find_char(s, first_len, '.') || find_char(s, first_len, ':') ||
				 has_upper(s, first_len))
		{
			domain = s;
			domain_len = first_len;
			rest = slash + 1;
			rest_len = len - first_len - 1;
		}
	}
	if (equals(domain, domain_len, REF_DEFAULT_DOMAIN) &&
		find_char(rest, rest_len, '/') == NULL)
		library = true;

	if (rest_len == 0 || rest[0] == ':' || rest[0] == '@')
	{
		parse_error_set(err, "The reference has no repository name%s.",
						rest_len > 0 ? " before its tag or digest" : "");
		return false;
	}
	if (slash == NULL && s[0] == '[')
	{
		parse_error_set(err, "A registry must be followed by a repository path, as in \"[::1]:5000/repository\".");
		return false;
	}

	colon = find_char(rest, rest_len, ':');
	remote_len = colon ? (size_t) (colon - rest) : rest_len;
	if (has_upper(rest, remote_len))
	{
		parse_error_set(err, "The repository path \"%s%.*s\" must be lowercase.",
						library ? REF_OFFICIAL_PREFIX : "", (int) remote_len, rest);
		return false;
	}

	memcpy(scratch, domain, domain_len);
	pos = domain_len;
	scratch[pos++] = '/';
	if (library)
	{
		memcpy(scratch + pos, REF_OFFICIAL_PREFIX, strlen(REF_OFFICIAL_PREFIX));
		pos += strlen(REF_OFFICIAL_PREFIX);
	}
	memcpy(scratch + pos, rest, rest_len);
	pos += rest_len;
	scratch[pos] = '\0';
	if (ref_parse(scratch, pos, out, err))
	{
		/*
		 * The first component was taken for a registry, and is no valid one
		 * ("foo_bar.x/repo"): the library reads the whole name as a path on
		 * no registry, which nothing can pull from.  Refused.
		 */
		if (out->domain_len == 0)
		{
			check_domain(domain, domain_len, err);
			return false;
		}
		return true;
	}
	if (has_scheme(s, len))
		parse_error_set(err, "An image reference is not a URL: leave out the scheme, as in \"quay.io/org/app\".");
	return false;
}

/* The familiar name drops docker.io and, for official images, library/. */
static void
familiar_name(const ImageRefParts *p, bool familiar, size_t *domain_len,
			  const char **path, size_t *path_len)
{
	size_t		prefix = strlen(REF_OFFICIAL_PREFIX);

	*domain_len = p->domain_len;
	*path = p->path;
	*path_len = p->path_len;
	if (!familiar || !equals(p->domain, p->domain_len, REF_DEFAULT_DOMAIN))
		return;
	*domain_len = 0;
	if (p->path_len > prefix && memcmp(p->path, REF_OFFICIAL_PREFIX, prefix) == 0 &&
		find_char(p->path + prefix, p->path_len - prefix, '/') == NULL)
	{
		*path += prefix;
		*path_len -= prefix;
	}
}

size_t
ref_text_length(const ImageRefParts *p, bool familiar)
{
	size_t		domain_len;
	const char *path;
	size_t		path_len;
	size_t		n;

	familiar_name(p, familiar, &domain_len, &path, &path_len);
	n = (domain_len ? domain_len + 1 : 0) + path_len;
	if (p->tag_len)
		n += 1 + p->tag_len;
	if (p->has_digest)
		n += 1 + strlen(digest_algorithm_name(p->digest.algorithm)) + 1 +
			2 * digest_hash_bytes(p->digest.algorithm);
	return n;
}

size_t
ref_format(const ImageRefParts *p, bool familiar, char *buf)
{
	size_t		domain_len;
	const char *path;
	size_t		path_len;
	size_t		pos = 0;

	familiar_name(p, familiar, &domain_len, &path, &path_len);
	if (domain_len)
	{
		memcpy(buf, p->domain, domain_len);
		pos = domain_len;
		buf[pos++] = '/';
	}
	memcpy(buf + pos, path, path_len);
	pos += path_len;
	if (p->tag_len)
	{
		buf[pos++] = ':';
		memcpy(buf + pos, p->tag, p->tag_len);
		pos += p->tag_len;
	}
	if (p->has_digest)
	{
		buf[pos++] = '@';
		pos += digest_format(&p->digest, buf + pos);
	}
	buf[pos] = '\0';
	return pos;
}

size_t
ref_name_length(const ImageRefParts *p)
{
	return (p->domain_len ? p->domain_len + 1 : 0) + p->path_len;
}

size_t
ref_format_name(const ImageRefParts *p, char *buf)
{
	ImageRefParts name = *p;

	name.tag_len = 0;
	name.has_digest = false;
	return ref_format(&name, false, buf);
}

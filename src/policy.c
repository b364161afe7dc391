/*
 * policy.c
 *		Registry allow and block lists, and the networks no import may reach.
 *
 * blocked_networks is checked on the address a connection is actually made
 * to (http.c calls policy_address_blocked from curl's open-socket callback),
 * so neither a host name that resolves inward nor a redirect gets past it.
 * The unspecified address, which Linux connects to this host's loopback, is
 * judged as the loopback address.
 */
#include "postgres.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>

#include "utils/guc.h"

#include "compat.h"
#include "policy.h"
#include "settings.h"

typedef struct Network
{
	int			family;			/* AF_INET or AF_INET6 */
	unsigned char addr[16];
	int			prefix;			/* bits */
} Network;

typedef struct NetworkList
{
	int			count;
	Network		nets[FLEXIBLE_ARRAY_MEMBER];
} NetworkList;

static NetworkList *blocked = NULL;

/* Case-insensitive glob: "*" matches any run of characters. */
static bool
glob_match(const char *pat, size_t plen, const char *s)
{
	if (plen == 0)
		return *s == '\0';
	if (*pat == '*')
	{
		for (;;)
		{
			if (glob_match(pat + 1, plen - 1, s))
				return true;
			if (*s == '\0')
				return false;
			s++;
		}
	}
	if (*s == '\0' || pg_tolower((unsigned char) *pat) != pg_tolower((unsigned char) *s))
		return false;
	return glob_match(pat + 1, plen - 1, s + 1);
}

/* host[:port] without its port ("[::1]:5000" keeps its brackets) */
static void
strip_port(const char *host, char *bare, size_t size)
{
	const char *colon = strrchr(host, ':');
	const char *bracket = strrchr(host, ']');
	size_t		n = strlen(host);

	if (colon && colon[1] != '\0' && strspn(colon + 1, "0123456789") == strlen(colon + 1) &&
		(host[0] != '[' || (bracket && colon > bracket)))
		n = colon - host;
	strlcpy(bare, host, Min(size, n + 1));
}

/*
 * Does a comma-separated pattern list match host[:port]?  A pattern with no
 * port matches the host on any port.
 */
static bool
list_matches(const char *list, const char *host)
{
	const char *p = list;
	char		bare[256];

	if (list == NULL)
		return false;
	strip_port(host, bare, sizeof(bare));
	while (*p)
	{
		const char *end = strchr(p, ',');
		size_t		len = end ? (size_t) (end - p) : strlen(p);

		while (len > 0 && isspace((unsigned char) *p))
			p++, len--;
		while (len > 0 && isspace((unsigned char) p[len - 1]))
			len--;
		if (len > 0 && (glob_match(p, len, host) || glob_match(p, len, bare)))
			return true;
		if (end == NULL)
			break;
		p = end + 1;
	}
	return false;
}

bool
policy_registry_allowed(const char *host, char *why, size_t why_len)
{
	if (!list_matches(imagestream_allowed_registries, host))
	{
		snprintf(why, why_len, "Registry %s is not in imagestream.allowed_registries.", host);
		return false;
	}
	if (list_matches(imagestream_blocked_registries, host))
	{
		snprintf(why, why_len, "Registry %s is in imagestream.blocked_registries.", host);
		return false;
	}
	return true;
}

bool
policy_registry_insecure(const char *host)
{
	return list_matches(imagestream_insecure_registries, host);
}

static bool
parse_network(const char *text, Network *net)
{
	char		buf[64];
	char	   *slash;
	int			max_bits;

	if (strlen(text) >= sizeof(buf))
		return false;
	strcpy(buf, text);
	slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	memset(net, 0, sizeof(*net));
	if (inet_pton(AF_INET, buf, net->addr) == 1)
	{
		net->family = AF_INET;
		max_bits = 32;
	}
	else if (inet_pton(AF_INET6, buf, net->addr) == 1)
	{
		net->family = AF_INET6;
		max_bits = 128;
	}
	else
		return false;
	net->prefix = max_bits;
	if (slash)
	{
		char	   *end;
		long		bits = strtol(slash + 1, &end, 10);

		if (*end != '\0' || end == slash + 1 || bits < 0 || bits > max_bits)
			return false;
		net->prefix = (int) bits;
	}
	return true;
}

bool
policy_check_networks(char **newval, void **extra, GucSource source)
{
	char	   *copy = pstrdup(*newval);
	char	   *tok;
	char	   *save;
	int			n = 0;
	NetworkList *list;

	for (tok = copy; *tok; tok++)
		n += (*tok == ',');
	/* a GUC's extra: the GUC machinery frees it */
	list = guc_extra_alloc(offsetof(NetworkList, nets) + sizeof(Network) * (n + 1));
	if (list == NULL)
	{
		GUC_check_errcode(ERRCODE_OUT_OF_MEMORY);
		pfree(copy);
		return false;
	}
	list->count = 0;
	strcpy(copy, *newval);
	for (tok = strtok_r(copy, ", \t", &save); tok; tok = strtok_r(NULL, ", \t", &save))
	{
		if (!parse_network(tok, &list->nets[list->count]))
		{
			GUC_check_errdetail("\"%s\" is not an IPv4 or IPv6 network in CIDR notation.", tok);
			guc_extra_free(list);
			pfree(copy);
			return false;
		}
		list->count++;
	}
	pfree(copy);
	*extra = list;
	return true;
}

void
policy_assign_networks(const char *newval, void *extra)
{
	blocked = (NetworkList *) extra;
}

static bool
prefix_equal(const unsigned char *a, const unsigned char *b, int bits)
{
	int			whole = bits / 8;
	int			rest = bits % 8;

	if (memcmp(a, b, whole) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((a[whole] ^ b[whole]) & (0xff << (8 - rest))) == 0;
}

bool
policy_address_blocked(const struct sockaddr *addr)
{
	unsigned char bytes[16];
	int			family = addr->sa_family;
	int			i;

	if (blocked == NULL)
		return false;
	if (family == AF_INET)
		memcpy(bytes, &((const struct sockaddr_in *) addr)->sin_addr, 4);
	else if (family == AF_INET6)
	{
		const struct in6_addr *a6 = &((const struct sockaddr_in6 *) addr)->sin6_addr;

		/* an IPv4-mapped address is judged as the IPv4 address it carries */
		if (IN6_IS_ADDR_V4MAPPED(a6))
		{
			family = AF_INET;
			memcpy(bytes, a6->s6_addr + 12, 4);
		}
		else
			memcpy(bytes, a6->s6_addr, 16);
	}
	else
		return true;			/* only IP connections are expected */

	/*
	 * A connection to the unspecified address (0.0.0.0/8, ::) reaches this
	 * host's loopback on Linux: judge it as the loopback address.
	 */
	if (family == AF_INET && bytes[0] == 0)
	{
		static const unsigned char loopback4[4] = {127, 0, 0, 1};

		memcpy(bytes, loopback4, 4);
	}
	else if (family == AF_INET6)
	{
		static const unsigned char unspecified6[16] = {0};

		if (memcmp(bytes, unspecified6, 16) == 0)
			bytes[15] = 1;		/* ::1 */
	}

	for (i = 0; i < blocked->count; i++)
		if (blocked->nets[i].family == family &&
			prefix_equal(bytes, blocked->nets[i].addr, blocked->nets[i].prefix))
			return true;
	return false;
}

bool
policy_host_blocked(const char *host, struct sockaddr_storage *blocked_addr, bool *unresolved)
{
	struct addrinfo hints;
	struct addrinfo *res;
	struct addrinfo *ai;
	bool		found = false;

	*unresolved = false;
	if (blocked == NULL || blocked->count == 0)
		return false;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, NULL, &hints, &res) != 0)
	{
		*unresolved = true;
		return true;
	}
	for (ai = res; ai && !found; ai = ai->ai_next)
		if (policy_address_blocked(ai->ai_addr))
		{
			memcpy(blocked_addr, ai->ai_addr, Min(ai->ai_addrlen, sizeof(*blocked_addr)));
			found = true;
		}
	freeaddrinfo(res);
	return found;
}

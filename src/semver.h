/*
 * semver.h
 *		Semantic versions and version ranges as Masterminds/semver v3.2.0
 *		reads them (NewVersion, NewConstraint, Constraints.Check): the
 *		library of Flux's image policies.
 *
 * Plain C with no PostgreSQL header and no allocation: versions point into
 * the caller's input, a range is one caller-owned struct of bounded size
 * that holds everything it needs (it may be copied with memcpy).  Inputs
 * longer than the bounds below are refused with SEMVER_TOO_LONG or
 * SEMVER_TOO_COMPLEX rather than truncated.  Fuzzed on its own
 * (test/fuzz/fuzz_semver.c) and checked against the library itself
 * (test/semver_oracle/).
 */
#ifndef IMAGESTREAM_SEMVER_H
#define IMAGESTREAM_SEMVER_H

#include "digest.h"				/* ParseError */

/* Longest version text accepted, in bytes (a registry tag has 128 at most). */
#define SEMVER_VERSION_MAX 256
/* Longest range text accepted, in bytes. */
#define SEMVER_RANGE_MAX 512
/* Most comparators in one range, all "||" groups together. */
#define SEMVER_RANGE_MAX_COMPARATORS 64
/* The range after the library's rewrite of "a - b" into ">= a, <= b". */
#define SEMVER_RANGE_TEXT_MAX (2 * SEMVER_RANGE_MAX)

typedef enum SemverStatus
{
	SEMVER_OK = 0,
	SEMVER_INVALID,				/* not a version / not a range */
	SEMVER_TOO_LONG,			/* longer than SEMVER_*_MAX */
	SEMVER_TOO_COMPLEX			/* more than SEMVER_RANGE_MAX_COMPARATORS */
} SemverStatus;

/*
 * A parsed version.  The library coerces "1" and "1.2" to 1.0.0 and 1.2.0
 * and accepts a leading "v"; pre and build point into the parsed text,
 * without their "-" and "+" (length 0: none).  Build metadata does not take
 * part in comparisons.
 */
typedef struct SemverVersion
{
	uint64_t	major;
	uint64_t	minor;
	uint64_t	patch;
	const char *pre;
	size_t		pre_len;
	const char *build;
	size_t		build_len;
} SemverVersion;

/* The library's operators; "" and "=" are the same one. */
typedef enum SemverOp
{
	SEMVER_OP_EQ,				/* "", "=": equal, or ~ when a part is x */
	SEMVER_OP_NE,				/* "!=" */
	SEMVER_OP_GT,				/* ">" */
	SEMVER_OP_LT,				/* "<" */
	SEMVER_OP_GE,				/* ">=", "=>" */
	SEMVER_OP_LE,				/* "<=", "=<" */
	SEMVER_OP_TILDE,			/* "~", "~>" */
	SEMVER_OP_CARET				/* "^" */
} SemverOp;

/*
 * One comparator of a range, as the library keeps it: the operator, the
 * version with wildcards (x, X, *) and missing parts as 0, and which parts
 * were wild ("dirty": the major, or anything below; minor_dirty: the minor;
 * patch_dirty: the patch).  Its prerelease is range->text[pre_off, +pre_len)
 * (offsets, so that a range can be copied).
 */
typedef struct SemverComparator
{
	uint8_t		op;				/* a SemverOp */
	bool		dirty;
	bool		minor_dirty;
	bool		patch_dirty;
	uint16_t	group;			/* index of its "||" group */
	uint16_t	pre_off;
	uint16_t	pre_len;
	uint64_t	major;
	uint64_t	minor;
	uint64_t	patch;
} SemverComparator;

/*
 * A parsed range: groups joined by "||", each a list of comparators that
 * must all hold.  Comparators are in text order, grouped by group.
 */
typedef struct SemverRange
{
	int			ncomparators;
	int			ngroups;
	SemverComparator comparators[SEMVER_RANGE_MAX_COMPARATORS];
	char		text[SEMVER_RANGE_TEXT_MAX + 1];
} SemverRange;

/*
 * NewVersion: parses exactly len bytes of s (not NUL-terminated).  On
 * failure says why in err (which may be NULL).  out points into s.
 */
extern SemverStatus semver_parse(const char *s, size_t len, SemverVersion *out,
								 ParseError *err);

/* Version.Compare: -1, 0 or 1 (semver 2.0 precedence; build ignored). */
extern int	semver_compare(const SemverVersion *a, const SemverVersion *b);

/* NewConstraint: parses exactly len bytes of s; out needs no s afterwards. */
extern SemverStatus semver_range_parse(const char *s, size_t len,
									   SemverRange *out, ParseError *err);

/*
 * Constraints.Check: does v satisfy the range?  In a group, each comparator
 * refuses a prerelease version unless the comparator names a prerelease
 * itself (except "!=" with no wildcard, which the library does not check).
 */
extern bool semver_satisfies(const SemverRange *range, const SemverVersion *v);

/* Does one comparator of range hold for v (the library's check of it)? */
extern bool semver_comparator_holds(const SemverRange *range,
									const SemverComparator *c,
									const SemverVersion *v);

#endif

/*
 * log_redact.c
 *		Keeping registry secrets out of the server log (security finding S8).
 *
 * set_registry_credentials() takes a secret as an argument, so the text of
 * a statement calling it holds the secret.  PostgreSQL logs that text with
 * log_statement, log_min_duration_statement, and with any error of the
 * statement (log_min_error_statement, on by default), and logs the values of
 * bind parameters too.  An emit_log_hook sees each message before it is
 * written: while the statement mentions set_registry_credentials, the
 * STATEMENT line is left out, a message quoting the statement is replaced,
 * and a detail listing parameters dropped.  It works where the library is
 * loaded before the first message, which shared_preload_libraries (needed
 * by the worker anyway) ensures; a statement that does not name the
 * function (EXECUTE of a prepared one) is not recognised.
 */
#include "postgres.h"

#include "tcop/tcopprot.h"
#include "utils/elog.h"

#include "log_redact.h"

static emit_log_hook_type prev_emit_log_hook = NULL;

static const char fn_name[] = "set_registry_credentials";

static bool
mentions_fn(const char *s)
{
	size_t		len = strlen(fn_name);

	if (s == NULL)
		return false;
	for (; *s; s++)
		if (pg_strncasecmp(s, fn_name, len) == 0)
			return true;
	return false;
}

static void
redact_credentials(ErrorData *edata)
{
	if (mentions_fn(debug_query_string))
	{
		edata->hide_stmt = true;
		/* a message quoting the statement: "statement: …", "duration: …" */
		if (edata->message && strstr(edata->message, debug_query_string) != NULL)
			edata->message = pstrdup("statement: (a call of set_registry_credentials, not logged: it holds a secret)");
		/* "parameters: $1 = '…'" */
		if (edata->detail && strncmp(edata->detail, "parameters:", 11) == 0)
			edata->detail = NULL;
		if (edata->detail_log && strncmp(edata->detail_log, "parameters:", 11) == 0)
			edata->detail_log = NULL;
	}
	if (prev_emit_log_hook)
		prev_emit_log_hook(edata);
}

void
log_redact_install(void)
{
	prev_emit_log_hook = emit_log_hook;
	emit_log_hook = redact_credentials;
}

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
 *
 * Bind parameters reach the log by more than one road (security finding
 * S23): the "parameters: …" detail of log_statement and
 * log_min_duration_statement, and, with log_parameter_max_length_on_error,
 * a context line of any error ("unnamed portal with parameters: …").  Those
 * texts are translated, so they are not recognised by their words: while
 * the statement names the function, every message drops its context (the
 * bind parameters' line and the body's PL/pgSQL line), and log and debug
 * messages, which only the server logs unless a client asks for them, drop
 * their detail too (parameters, debug_print_* trees).  An error keeps its
 * message and detail for the client.
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
		edata->context = NULL;
		edata->detail_log = NULL;
		if (edata->elevel < INFO)
			edata->detail = NULL;
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

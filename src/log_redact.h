/*
 * log_redact.h
 *		Keeping registry secrets out of the server log (security finding S8).
 */
#ifndef IMAGESTREAM_LOG_REDACT_H
#define IMAGESTREAM_LOG_REDACT_H

extern void log_redact_install(void);

#endif

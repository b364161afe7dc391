/*
 * pg_stubs.h
 *		The harness's side of pg_stubs.c: frees everything palloc'd since the
 *		last call, as a memory context reset.
 */
#ifndef IMAGESTREAM_PG_STUBS_H
#define IMAGESTREAM_PG_STUBS_H

extern void stub_reset_memory(void);

#endif

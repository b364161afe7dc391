/*
 * worker_ddl.h
 *		Statements that need a database to themselves stop its worker first.
 */
#ifndef IMAGESTREAM_WORKER_DDL_H
#define IMAGESTREAM_WORKER_DDL_H

extern void worker_ddl_install(void);

#endif

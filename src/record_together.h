/*
 * record_together.h
 *		When an import's tags of one stream are recorded together.
 *
 * The set-based recording (_record_imports, _worker_apply_many) costs about
 * 2 ms a call whatever the number of tags, one tag at a time about 0.3 ms:
 * fewer tags of a stream than this are recorded one at a time.  The worker
 * decides by it in C, import_image in SQL through _record_together_min()
 * (record_together.c), so that both decide alike.
 */
#ifndef IMAGESTREAM_RECORD_TOGETHER_H
#define IMAGESTREAM_RECORD_TOGETHER_H

#define RECORD_TOGETHER_MIN 16

#endif

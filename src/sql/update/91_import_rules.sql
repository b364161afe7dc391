-- Issue 18: oc's rules for tag().  tag() decides a source's kind from its
-- text alone (_source_kind replaces _infer_source_kind, which looked the
-- stream up).

DROP FUNCTION _infer_source_kind(text, text);

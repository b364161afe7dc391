-- The enumerations of the image API.
SET search_path TO imagestream, public;

SELECT enum_range(NULL::source_kind);
SELECT enum_range(NULL::reference_policy);
SELECT enum_range(NULL::import_mode);
SELECT 'Docker'::source_kind;
SELECT 'local'::reference_policy;

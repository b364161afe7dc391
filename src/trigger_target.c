/*
 * trigger_target.c
 *		imagestream._expression_impure: whether an expression of an image
 *		change trigger's table (a policy, a check, a generated column, an
 *		index) could run code other than PostgreSQL's own simple functions
 *		(src/trigger_write.c says why none may run).
 *
 * A dependency list is not enough: built-in functions that take SQL text
 * (query_to_xml) or dispatch on a type at run time (to_jsonb calls a
 * role's cast) run a role's code while depending on nothing of it.  So the
 * expression itself is walked, and only a few node kinds pass, calling
 * only leakproof built-in functions: those PostgreSQL marks as revealing
 * nothing and calling nothing (comparisons, as in "tenant = current_user"),
 * and current_setting.
 */
#include "postgres.h"

#include "access/transam.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "nodes/nodeFuncs.h"
#include "nodes/primnodes.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"

typedef struct Impure
{
	char	   *found;			/* what runs other code, or NULL */
} Impure;

static bool
builtin_simple_function(Oid funcid)
{
	char	   *name;

	if (funcid >= FirstGenbkiObjectId)
		return false;
	if (get_func_leakproof(funcid))
		return true;
	name = get_func_name(funcid);
	return name != NULL && strcmp(name, "current_setting") == 0;
}

static bool
function_refused(Oid funcid, void *context)
{
	Impure	   *impure = context;

	if (builtin_simple_function(funcid))
		return false;
	impure->found = psprintf("function %s", format_procedure(funcid));
	return true;
}

/* Built-in scalar or enum types: their I/O functions run nothing else. */
static bool
simple_type(Oid type)
{
	return (type < FirstGenbkiObjectId && get_typtype(type) == TYPTYPE_BASE &&
			!OidIsValid(get_element_type(type))) ||
		get_typtype(type) == TYPTYPE_ENUM;
}

static bool
impure_walker(Node *node, Impure *impure)
{
	if (node == NULL)
		return false;
	switch (nodeTag(node))
	{
		case T_Var:
		case T_Const:
		case T_Param:
		case T_SQLValueFunction:
		case T_BoolExpr:
		case T_NullTest:
		case T_BooleanTest:
		case T_RelabelType:
		case T_CaseExpr:
		case T_CaseWhen:
		case T_CaseTestExpr:
		case T_ArrayExpr:
		case T_CollateExpr:
		case T_CoalesceExpr:
		case T_List:
			break;
		case T_OpExpr:
		case T_DistinctExpr:
		case T_NullIfExpr:
		case T_ScalarArrayOpExpr:
		case T_FuncExpr:
			if (check_functions_in_node(node, function_refused, impure))
				return true;
			break;
		case T_CoerceViaIO:
			{
				CoerceViaIO *coerce = (CoerceViaIO *) node;

				if (!simple_type(coerce->resulttype) || !simple_type(exprType((Node *) coerce->arg)))
				{
					impure->found = psprintf("a conversion to %s", format_type_be(coerce->resulttype));
					return true;
				}
				break;
			}
		default:
			/* a subquery, a domain's check, XML, a row comparison, ... */
			impure->found = pstrdup("an expression that may run other code (a subquery, a domain, ...)");
			return true;
	}
	return expression_tree_walker(node, impure_walker, impure);
}

/*
 * _expression_impure(pg_node_tree) → text: what of the expression could
 * run other code, or NULL.
 */
PG_FUNCTION_INFO_V1(imagestream_expression_impure);
Datum
imagestream_expression_impure(PG_FUNCTION_ARGS)
{
	Impure		impure = {NULL};

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	(void) impure_walker(stringToNode(text_to_cstring(PG_GETARG_TEXT_PP(0))), &impure);
	if (impure.found == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(impure.found));
}

/*
 * compat.h — the differences between the PostgreSQL major versions perfopt
 * builds for, in one place: code elsewhere uses these names only.
 */
#ifndef PERFOPT_COMPAT_H
#define PERFOPT_COMPAT_H

#include "utils/acl.h"

/*
 * May member SET ROLE to role?  PostgreSQL 16 made that a grant option of
 * its own; before, every member could.
 */
#if PG_VERSION_NUM >= 160000
#define perfopt_member_can_set_role(member, role) member_can_set_role(member, role)
#else
#define perfopt_member_can_set_role(member, role) is_member_of_role(member, role)
#endif

#endif							/* PERFOPT_COMPAT_H */

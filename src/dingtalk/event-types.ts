/**
 * What an organisation event means for accounts, by DingTalk's event type (dingtalk-api.md §5.1,
 * §10.3; the same names over HTTP and Stream): `leave` (cut the person off now), `profile` (re-read
 * the people), `department` (re-read a department's members). `undefined`: a type we do not handle.
 */
export type DirectoryChange = 'leave' | 'profile' | 'department';

const CHANGES: Readonly<Record<string, DirectoryChange>> = {
  user_leave_org: 'leave',
  user_add_org: 'profile',
  user_modify_org: 'profile',
  user_active_org: 'profile',
  org_dept_create: 'department',
  org_dept_modify: 'department',
  org_dept_remove: 'department',
};

export function directoryChangeOf(type: string): DirectoryChange | undefined {
  return Object.hasOwn(CHANGES, type) ? CHANGES[type] : undefined;
}

/** A department that was removed has nothing left to read at DingTalk. */
export function isDepartmentRemoval(type: string): boolean {
  return type === 'org_dept_remove';
}

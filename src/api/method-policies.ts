/**
 * What each RPC requires of its caller, and which calls the audit log records (every call
 * that changes state, refused or not). One table, so that a new RPC fails at start until it is
 * given a scope.
 */
import type { Scope } from "../auth/index.js";
import { bug } from "../core/errors.js";

export interface MethodPolicy {
  readonly scope: Scope;
  readonly audited: boolean;
}

const query = (scope: Scope): MethodPolicy => ({ scope, audited: false });
const change = (scope: Scope): MethodPolicy => ({ scope, audited: true });

export const METHOD_POLICIES: Readonly<Record<string, MethodPolicy>> = {
  "PermissionService/Check": query("check"),
  "PermissionService/CheckBulk": query("check"),
  "PermissionService/Expand": query("check"),
  "PermissionService/ListObjects": query("check"),
  "PermissionService/ListSubjects": query("check"),
  "RelationshipService/Write": change("write"),
  "RelationshipService/Delete": change("write"),
  "RelationshipService/Import": change("write"),
  "RelationshipService/Read": query("read"),
  "RelationshipService/Export": query("read"),
  "RelationshipService/Watch": query("watch"),
  "SchemaService/WriteSchema": change("schema"),
  "SchemaService/ReadSchema": query("read"),
  "SchemaService/ValidateSchema": query("read"),
  "SchemaService/DiffSchema": query("read"),
  "AdminService/CreateApiKey": change("admin"),
  "AdminService/ListApiKeys": query("admin"),
  "AdminService/RevokeApiKey": change("admin"),
  "AdminService/CreateTenant": change("admin"),
  "AdminService/ListTenants": query("admin"),
  // SpiceDB's face (api/authzed/), by full service name: SchemaService exists on both faces.
  "authzed.api.v1.PermissionsService/CheckPermission": query("check"),
  "authzed.api.v1.PermissionsService/CheckBulkPermissions": query("check"),
  "authzed.api.v1.PermissionsService/ExpandPermissionTree": query("check"),
  "authzed.api.v1.PermissionsService/LookupResources": query("check"),
  "authzed.api.v1.PermissionsService/LookupSubjects": query("check"),
  "authzed.api.v1.PermissionsService/ReadRelationships": query("read"),
  "authzed.api.v1.PermissionsService/WriteRelationships": change("write"),
  "authzed.api.v1.PermissionsService/DeleteRelationships": change("write"),
  "authzed.api.v1.PermissionsService/ImportBulkRelationships": change("write"),
  "authzed.api.v1.PermissionsService/ExportBulkRelationships": query("read"),
  "authzed.api.v1.SchemaService/ReadSchema": query("read"),
  "authzed.api.v1.SchemaService/WriteSchema": change("schema"),
  "authzed.api.v1.SchemaService/ReflectSchema": query("read"),
  "authzed.api.v1.SchemaService/ComputablePermissions": query("read"),
  "authzed.api.v1.SchemaService/DependentRelations": query("read"),
  "authzed.api.v1.SchemaService/DiffSchema": query("read"),
  "authzed.api.v1.WatchService/Watch": query("watch"),
  "authzed.api.v1.ExperimentalService/BulkImportRelationships": change("write"),
  "authzed.api.v1.ExperimentalService/BulkExportRelationships": query("read"),
  "authzed.api.v1.ExperimentalService/BulkCheckPermission": query("check"),
  "authzed.api.v1.ExperimentalService/ExperimentalReflectSchema": query("read"),
  "authzed.api.v1.ExperimentalService/ExperimentalComputablePermissions": query("read"),
  "authzed.api.v1.ExperimentalService/ExperimentalDependentRelations": query("read"),
  "authzed.api.v1.ExperimentalService/ExperimentalDiffSchema": query("read"),
  "authzed.api.v1.ExperimentalService/ExperimentalRegisterRelationshipCounter": change("write"),
  "authzed.api.v1.ExperimentalService/ExperimentalCountRelationships": query("read"),
  "authzed.api.v1.ExperimentalService/ExperimentalUnregisterRelationshipCounter": change("write"),
};

export function policyOf(method: string): MethodPolicy {
  return METHOD_POLICIES[method] ?? bug(`no scope is assigned to ${method} in METHOD_POLICIES`);
}

# OUT/results.sarif (SARIF 2.1.0) from OUT/report.json (ci/nightly/report.sh). One rule per
# clause, or per signature for a finding without a clause; one result per finding. A finding's
# location is its clause's heading in docs/SPEC.md (base SRCROOT: the checkout) when it has a
# clause, its input file in the output folder (base NIGHTLY_OUT) otherwise; the input, minimized
# input, trace and C reproducer are related locations. Level: error for a new reliable finding,
# warning for a flaky one, note for a known one; baselineState new or unchanged.
# $spec_lines: {"CLAUSE.ID": line of its "### `CLAUSE.ID`" heading in docs/SPEC.md}.
include "dashboard_lib";

def rule_id: .clause // .signature;
def out_file($uri): {physicalLocation: {artifactLocation: {uri: $uri, uriBaseId: "NIGHTLY_OUT"}}};

. as $r
| ([$r.findings[] | rule_id] | unique) as $rule_ids
| {
    "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
    version: "2.1.0",
    runs: [{
      tool: {driver: {
        name: "vmbsave-nightly",
        rules: [$rule_ids[] as $id
                | ($r.findings | map(select(rule_id == $id)) | first) as $f
                | {id: $id, name: ($id | gsub("[^A-Za-z0-9]+"; "_")),
                   shortDescription: {text: (if $f.clause then "Violates \($id) (docs/SPEC.md)"
                                             else "\($f.kind): \($id)" end)},
                   fullDescription: {text: (if $f.clause then "A run broke the contract clause \($id) of docs/SPEC.md; the finding's trace names the step."
                                            else "The fuzz target \($f.target) hit a \($f.kind) with this signature." end)},
                   help: {text: "Reproduce with the finding's command (result property 'command'); docs/SPEC.md gives the clause."},
                   properties: {tags: ([$r.findings[] | select(rule_id == $id) | .kind] | unique)}}]
      }},
      originalUriBaseIds: {
        SRCROOT: {description: {text: "the vmbsave checkout (docs/SPEC.md)"}},
        NIGHTLY_OUT: {description: {text: "the nightly output folder (its findings/)"}}
      },
      invocations: [{executionSuccessful: ($r.verdict != "broken"),
                     startTimeUtc: $r.started}
                    + (if ($r.finished | type) == "string" then {endTimeUtc: $r.finished} else {} end)],
      results: [$r.findings[] | . as $f
        | finding_class as $c
        | rule_id as $id
        | {ruleId: $id,
           ruleIndex: ($rule_ids | index($id)),
           level: (if $c == "known" then "note" elif $c == "flaky" then "warning" else "error" end),
           baselineState: (if .status == "new" then "new" else "unchanged" end),
           message: {text: "\(.id): \(.kind) \(.signature) in \(.target) (\(.engine)); \(.status), \(.reliability) (reproduced \(.reproduced // "?")). Reproduce: \(.command)"},
           locations: [if .clause and ($spec_lines[.clause] != null) then
                         {physicalLocation: {artifactLocation: {uri: "docs/SPEC.md", uriBaseId: "SRCROOT"},
                                             region: {startLine: $spec_lines[.clause]}}}
                       else out_file(.file) end],
           relatedLocations: ([.file, .minimized, .trace, .c_reproducer] | map(select(type == "string"))
                              | to_entries | map(out_file(.value) + {id: (.key + 1)})),
           partialFingerprints: {"vmbsaveSignature/v1": "\(.target):\(.signature)"},
           properties: {id, target, engine, kind, status, reliability, reproduced, command}}]
    }]
  }

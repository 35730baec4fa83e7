"""A form's life after its first version: change, check against the data, migrate, publish.

Admins edit `forms/` by hand while the ledger keeps working. The modules here make sure such an
edit never loses, hides or stales a stored value:

- `formdiff`: what changed between two versions of a form (fields, choices, rules, columns);
- `usage`: which fields and choice values the stored records actually hold, with counts;
- `datacheck`: the two together — errors naming the migration that would fix each;
- `migrations`: declarative data changes (`forms/migrations/*.yaml`), dry-run and apply;
- `retired`: values of fields a form no longer has, kept on the record instead of erased;
- `reevaluate`: computed fields and rules recomputed under today's forms and date;
- `publish`: the last good form set staff run, whatever the working copy holds;
- `formtests`: answers → expected results, written by admins in YAML.
"""

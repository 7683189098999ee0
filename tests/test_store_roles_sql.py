"""`lungscreen store roles` prints the role grants (jobs.store.roles) and refuses a role name
that could smuggle SQL; the grants themselves are run on a real server in
tests/test_store_postgres_roles.py."""

from __future__ import annotations

import pytest

from cli.main import main
from jobs.store.roles import role_grants
from kernel.errors import BadInput


def test_the_command_prints_one_statement_a_line(capsys):
    assert main(["store", "roles", "--driver", "ls_driver", "--service", "ls_service"]) == 0
    lines = [ln for ln in capsys.readouterr().out.splitlines() if not ln.startswith("--")]
    assert lines == [f"{s};" for s in role_grants("ls_driver", "ls_service")]
    assert not any("tokens" in ln and "ls_driver" in ln and ln.startswith("GRANT")
                   for ln in lines)
    assert 'GRANT SELECT, INSERT ON events TO "ls_service";' in lines
    assert 'GRANT SELECT, UPDATE (last_used_at) ON tokens TO "ls_service";' in lines


@pytest.mark.parametrize("driver,service", [('x"; DROP TABLE results; --', "svc"),
                                            ("Driver", "svc"), ("same", "same")])
def test_a_bad_or_shared_role_name_is_refused(driver, service):
    with pytest.raises(BadInput):
        role_grants(driver, service)

"""The calibrate command's standalone mode: CSV in, item parameters out."""

import csv

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from calibration.irt.datasets import load_lsat7

MIRT_A = [0.988, 1.081, 1.707, 0.765, 0.736]
MIRT_B = [-1.879, -0.748, -1.057, -0.635, -2.521]


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def lsat7_csv(tmp_path):
    path = tmp_path / "lsat7.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([f"item{j}" for j in range(1, 6)])
        writer.writerows(load_lsat7().astype(int).tolist())
    return path


def test_standalone_mml_writes_item_parameters_and_abilities(lsat7_csv, tmp_path):
    items, abilities = tmp_path / "items.csv", tmp_path / "abilities.csv"
    call_command(
        "calibrate",
        input=lsat7_csv,
        method="mml",
        output=items,
        abilities=abilities,
        stdout=open("/dev/null", "w"),
    )
    with open(items, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["item", "a", "b", "se_a", "se_b"]
    assert [r["item"] for r in rows] == [f"item{j}" for j in range(1, 6)]
    assert np.allclose([float(r["a"]) for r in rows], MIRT_A, atol=0.005)
    assert np.allclose([float(r["b"]) for r in rows], MIRT_B, atol=0.005)
    with open(abilities, newline="") as handle:
        persons = list(csv.DictReader(handle))
    assert len(persons) == 1000
    assert all(np.isfinite(float(p["theta"])) for p in persons)


def test_missing_cells_are_allowed(tmp_path):
    rng = np.random.default_rng(3)
    theta = rng.normal(size=400)
    b = np.linspace(-1.5, 1.5, 6)
    answers = (rng.random((400, 6)) < 1 / (1 + np.exp(-(theta[:, None] - b)))).astype(
        int
    )
    lines = ["q1,q2,q3,q4,q5,q6"]
    for i, row in enumerate(answers):
        cells = [str(v) for v in row]
        cells[i % 6] = ""  # one missing answer per person
        lines.append(",".join(cells))
    source = write(tmp_path / "r.csv", "\n".join(lines) + "\n")
    out = tmp_path / "items.csv"
    call_command(
        "calibrate",
        input=source,
        method="mml",
        output=out,
        stdout=open("/dev/null", "w"),
    )
    difficulties = [float(r["b"]) for r in csv.DictReader(open(out, newline=""))]
    assert np.all(np.diff(difficulties) > 0), "difficulties follow the simulated order"


@pytest.mark.parametrize(
    "content, message",
    [
        ("q1,q2\n1,0\n1,x\n", "line 3, item 'q2': 'x' is not 0, 1 or empty"),
        ("q1,q2\n1,0\n1\n", "line 3: 1 cells, expected 2"),
        ("q1,q1\n1,0\n", "repeated item names"),
        ("", "is empty"),
        ("q1,q2\n", "no responses"),
        ("q1;q2\n1;0\n", "separate item names and cells with commas"),
        ("q1,,q3\n1,0,1\n", "empty item name"),
    ],
)
def test_bad_csv_is_a_command_error_and_writes_nothing(tmp_path, content, message):
    source = write(tmp_path / "bad.csv", content)
    out = tmp_path / "items.csv"
    out.write_text("previous results\n")
    with pytest.raises(CommandError, match=message):
        call_command("calibrate", input=source, method="mml", output=out)
    assert out.read_text() == "previous results\n", "the old output stays whole"
    assert not list(tmp_path.glob("*.partial"))


def test_too_few_persons_is_a_command_error(tmp_path):
    source = write(tmp_path / "small.csv", "q1,q2\n1,0\n0,1\n")
    with pytest.raises(CommandError, match="person"):
        call_command("calibrate", input=source, method="mml", output=tmp_path / "o.csv")


def test_argument_errors(tmp_path, lsat7_csv):
    with pytest.raises(CommandError, match="needs --output"):
        call_command("calibrate", input=lsat7_csv)
    with pytest.raises(CommandError, match="overwrite the input"):
        call_command("calibrate", input=lsat7_csv, output=lsat7_csv)
    with pytest.raises(CommandError, match="Cannot read"):
        call_command(
            "calibrate", input=tmp_path / "absent.csv", output=tmp_path / "o.csv"
        )
    with pytest.raises(CommandError, match="--max-iter"):
        call_command(
            "calibrate", input=lsat7_csv, output=tmp_path / "o.csv", max_iter=0
        )


@pytest.mark.django_db
def test_calibrate_names_an_unknown_organisation():
    with pytest.raises(CommandError, match="No organisation with slug 'nowhere'"):
        call_command("calibrate", "nowhere")


@pytest.mark.django_db
def test_create_api_user_prints_a_working_token(organisation, capsys):
    from rest_framework.test import APIClient

    call_command("create_api_user", organisation.slug, "carol")
    token = capsys.readouterr().out.strip()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/v1/jobs/").status_code == 200
    with pytest.raises(CommandError, match="already belongs"):
        from assessments.models import Organisation

        other = Organisation.objects.create(name="Other", slug="other")
        call_command("create_api_user", other.slug, "carol")


def test_standalone_fit_without_a_maximum_is_refused_and_writes_nothing(
    lsat7_csv, tmp_path
):
    import io

    items, abilities = tmp_path / "items.csv", tmp_path / "abilities.csv"
    stderr = io.StringIO()
    with pytest.raises(CommandError) as error:
        call_command(
            "calibrate",
            input=lsat7_csv,
            method="jmle",
            output=items,
            abilities=abilities,
            stdout=open("/dev/null", "w"),
            stderr=stderr,
        )
    # Said once, in the product's words: no engine warning naming a class.
    assert "MarginalMLE" not in stderr.getvalue()
    message = str(error.value)
    assert message.startswith("The jmle calibration has no finite maximum")
    assert message.endswith(
        f"nothing was written to {items}. Use method 'mml', which suits short "
        "and sparse tests."
    )
    assert not items.exists() and not abilities.exists()

"""Report data shaped like the Django side's, for tests and benchmarks."""

import math
import random


def make_report_data(n_items=20, calibrated=True, seed=1, external_id="LSAT-0001"):
    """Return one student's report data; ``seed`` makes the responses repeatable."""
    rng = random.Random(seed)
    true_theta = 0.4
    items, trajectory = [], []
    theta, se = 0.0, None
    information = 0.0
    correct_count = 0
    for position in range(1, n_items + 1):
        a = round(rng.uniform(0.6, 1.8), 2)
        b = round(rng.uniform(-2.0, 2.0), 2)
        p = 1 / (1 + math.exp(-a * (true_theta - b)))
        correct = rng.random() < p
        correct_count += correct
        # A rough running estimate: a step towards the evidence, shrinking.
        information += a * a * p * (1 - p)
        theta += (1 if correct else -1) * 0.6 / math.sqrt(position)
        se = 1 / math.sqrt(information + 0.5)
        items.append(
            {
                "position": position,
                "item_code": f"ITEM{position}",
                "discrimination": a if calibrated else None,
                "difficulty": b if calibrated else None,
                "correct": correct,
                "answered_at": f"2026-12-01T10:{position:02d}:00+00:00",
            }
        )
        trajectory.append(
            {
                "position": position,
                "item_code": f"ITEM{position}",
                "correct": correct,
                "theta": round(theta, 3) if calibrated else None,
                "se": round(se, 3) if calibrated else None,
            }
        )
    return {
        "report_type": "comprehensive",
        "generated_at": "2026-12-04T16:00:00+00:00",
        "organisation": {"name": "Springfield High"},
        "student": {
            "id": "0b6f6f7e-8a55-4a3b-9a55-3f4f1d3f0001",
            "external_id": external_id,
            "name": "Student 0001",
        },
        "assessment": {
            "id": "6c1f2a5e-1d2b-4c3d-8e4f-5a6b7c8d9e0f",
            "name": "LSAT Section 7",
            "code": "LSAT7",
        },
        "calibration": (
            {
                "run_id": "9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d",
                "method": "jmle",
                "finished_at": "2026-12-03T09:30:00+00:00",
            }
            if calibrated
            else None
        ),
        "ability": {"theta": 0.412, "se": 0.31} if calibrated else None,
        "summary": {
            "items_answered": n_items,
            "correct": correct_count,
            "accuracy": round(correct_count / n_items, 4) if n_items else None,
        },
        "trajectory": trajectory,
        "items": items,
    }


def with_ability(data, theta, se):
    """Set the student's final ability estimate and standard error."""
    data["ability"] = {"theta": theta, "se": se}
    return data


def with_all_answers(data, correct):
    """Make every response correct (or every one wrong), summary included."""
    for row in data["items"] + data["trajectory"]:
        row["correct"] = correct
    n_items = len(data["items"])
    data["summary"] = {
        "items_answered": n_items,
        "correct": n_items if correct else 0,
        "accuracy": (1.0 if correct else 0.0) if n_items else None,
    }
    return data

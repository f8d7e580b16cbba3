"""Time `match_city`: the one-off index build, then lookups of each kind (not a test)."""

from __future__ import annotations

import statistics
import time

from bot.places import match_city, prepare

CASES = {
    "exact": ["Tijuana", "cd juarez", "Cd. Juárez", "CDMX", "saltiyo", "reinosa"],
    "around the name": ["estoy en reynosa", "tijuana baja california", "Tijuana, BC"],
    "typo (fuzzy)": ["tijuna", "guadalajra", "vilahermoza"],
    "not a place (fuzzy, then None)": ["asdfgh", "gracias", "donde hay albergue para mujeres"],
}


def main(rounds: int = 300) -> None:
    """Print the build time and the median and worst lookup time per kind of input."""
    start = time.perf_counter()
    prepare()
    print(f"index build: {time.perf_counter() - start:.2f} s (once per process)")
    for kind, texts in CASES.items():
        times = []
        for text in texts * rounds:
            start = time.perf_counter()
            match_city(text)
            times.append((time.perf_counter() - start) * 1000)
        print(f"{kind:32} median {statistics.median(times):.3f} ms  "
              f"p99 {sorted(times)[int(len(times) * 0.99)]:.3f} ms  max {max(times):.3f} ms")


if __name__ == "__main__":
    main()

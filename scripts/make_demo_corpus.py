"""Make the espeak-ng demo corpus (LJ Speech layout) used by the quickstart and the tests.

    python scripts/make_demo_corpus.py --output_dir demo_corpus [--num_utterances 40] [--seed 0]
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from src.cli import run_main  # noqa: E402
from src.demo_corpus import DEFAULT_VOICES, make_demo_corpus  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description="espeak-ng speaks a few dozen English sentences "
                                                 "into an LJ Speech-style folder (metadata.csv + wavs/).")
    parser.add_argument("--output_dir", default="demo_corpus")
    parser.add_argument("--num_utterances", type=int, default=40)
    parser.add_argument("--voices", default=",".join(DEFAULT_VOICES),
                        help="comma-separated espeak-ng voices (language+variant)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    out = run_main(lambda: make_demo_corpus(args.output_dir, args.num_utterances, args.voices.split(","), args.seed))
    print(f"demo corpus: {args.num_utterances} utterances in {out}")


if __name__ == "__main__":
    main()

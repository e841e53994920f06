"""Oracle for `lgd`'s TensorBoard event writer: reads one run folder with TensorBoard's own
EventAccumulator (every event file in it, in name order, with its restart handling) and prints
{"file_version": ..., "scalars": {tag: [[step, wall_time, repr(value)], ...]}} as JSON. Values
travel as Python's repr so that NaN, infinities and -0.0 survive JSON.

usage: read_tensorboard_events.py RUN_DIR
"""

import json
import sys

from tensorboard.backend.event_processing import event_accumulator as ea


def main():
    # Size 0 keeps every scalar (the default samples 10,000 per tag).
    accumulator = ea.EventAccumulator(sys.argv[1], size_guidance={ea.SCALARS: 0})
    accumulator.Reload()
    scalars = {
        tag: [[event.step, event.wall_time, repr(event.value)] for event in accumulator.Scalars(tag)]
        for tag in accumulator.Tags()[ea.SCALARS]
    }
    print(json.dumps({"file_version": accumulator.file_version, "scalars": scalars}))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Stands in for Apptainer, which cannot be installed on the machines that run the tests.

Installed as `apptainer` on PATH by tests/orchestration/conftest.py (its first line then names
the interpreter running the tests). It records each call as one JSON line in
$APPTAINER_STANDIN_LOG, then does on the host what Apptainer would do:
- `exec [options] IMAGE COMMAND...`: checks that the image and the bind sources exist (as
  Apptainer does), sets the `--env NAME=VALUE` variables and runs COMMAND, `python` being the
  interpreter that runs this script (the image's python holds babelsum and submitit);
- `build [options] IMAGE RECIPE`: writes IMAGE as a small text file naming the recipe;
- `--version`: prints a version.
"""

import json
import os
import sys

OPTIONS_WITH_VALUE = {
    "--bind",
    "-B",
    "--env",
    "--env-file",
    "--home",
    "-H",
    "--pwd",
    "--overlay",
    "-o",
    "--mount",
    "--security",
    "--network",
    "--build-arg",
    "--section",
    "--nvccli",
}


def parse(args):
    options, rest = [], list(args)
    while rest and rest[0].startswith("-"):
        option = rest.pop(0)
        if option in OPTIONS_WITH_VALUE:
            options.append((option, rest.pop(0)))
        elif "=" in option:
            options.append(tuple(option.split("=", 1)))
        else:
            options.append((option, None))
    return options, rest


def fail(message):
    print(f"FATAL:   {message}", file=sys.stderr)
    sys.exit(255)


def main():
    args = sys.argv[1:]
    if args[:1] == ["--version"]:
        print("apptainer version 1.3.0 (stand-in)")
        return
    command, (options, rest) = args[0], parse(args[1:])
    binds = [v for k, v in options if k in ("--bind", "-B")]
    env = dict(v.split("=", 1) for k, v in options if k == "--env")
    record = {"argv": args, "command": command, "binds": binds, "env": env, "rest": rest}
    with open(os.environ["APPTAINER_STANDIN_LOG"], "a") as log:
        log.write(json.dumps(record) + "\n")
    if command == "exec":
        image, inner = rest[0], rest[1:]
        if not os.path.exists(image):
            fail(f"could not open image {image}: failed to retrieve path for {image}")
        for bind in binds:
            source = bind.split(":")[0]
            if not os.path.exists(source):
                fail(f"container creation failed: mount {source}: no such file or directory")
        if inner and inner[0] == "python":
            inner[0] = sys.executable
        os.environ.update(env)
        os.execvp(inner[0], inner)
    if command == "build":
        image, recipe = rest[0], rest[1]
        if not os.path.exists(recipe):
            fail(f"unable to open file {recipe}")
        with open(image, "w") as out:
            out.write(f"stand-in image built from {recipe}\n")
        return
    fail(f"the stand-in does not know `apptainer {command}`")


if __name__ == "__main__":
    main()

"""Cover: work whose holder is away when it falls due, has left the directory, or whose case has
closed, listed to Q&I to reassign or close (issue 16). It asks ``rt.features.work_kinds()`` and
never imports a feature."""

# Baseline for bench/eval-vqa.ts: run the official GT-Vision-Lab/VQA vqaEval.py (a checkout given as argv[1], e.g.
# the fetched repository's PythonHelperTools/vqaTools + PythonEvaluationTools/vqaEvaluation folders) on the same
# files with Python 2.7, and print one JSON line: wall and CPU seconds, peak RSS, and the accuracy dict. Nothing of the official
# code is copied here; it is imported from the user's own copy.
import json, os, resource, sys, time
ref, questions, annotations, results = sys.argv[1:5]
sys.path.insert(0, os.path.join(ref, 'PythonHelperTools', 'vqaTools'))
sys.path.insert(0, os.path.join(ref, 'PythonEvaluationTools', 'vqaEvaluation'))
from vqa import VQA
from vqaEval import VQAEval
start = time.time()
cpu0 = resource.getrusage(resource.RUSAGE_SELF)
real_stdout = sys.stdout
sys.stdout = open(os.devnull, 'w')  # the script prints a progress bar
vqa = VQA(annotations, questions)
res = vqa.loadRes(results, questions)
ev = VQAEval(vqa, res, n=2)
ev.evaluate()
sys.stdout = real_stdout
seconds = time.time() - start
cpu1 = resource.getrusage(resource.RUSAGE_SELF)
cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({'seconds': seconds, 'cpuSeconds': cpu, 'peakRss': rss, 'overall': ev.accuracy['overall'], 'perAnswerType': ev.accuracy['perAnswerType']}))

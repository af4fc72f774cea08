"""How P07_emotion_films.csv and p08_emotion_films.csv were written: by PsychoPy 2026.2.5's own
ExperimentHandler and TrialHandler, as a Builder experiment writes its data file (run with PsychoPy
installed; the project's environments do not include it). Used by tests/test_labels_import.py."""
import psychopy
from psychopy import data

def session(participant, films, keys, valences, t0):
    exp_info = {"participant": participant, "session": "001"}
    exp_info["date"] = "2026-03-01_10h15.00.000"  # data.getDateStr(), fixed so the file is reproducible
    exp_info["expName"] = "emotion_films"
    exp_info["psychopyVersion"] = psychopy.__version__
    exp_info["frameRate"] = 60.0
    exp = data.ExperimentHandler(name="emotion_films", extraInfo=exp_info, savePickle=False, saveWideText=False,
                                 dataFileName=f"{participant}_emotion_films")
    # the instruction routine, outside the loop: a row with no rating
    exp.addData("instructions.started", t0 - 10.0)
    exp.addData("instructions.stopped", t0 - 2.0)
    exp.addData("key_resp_instr.keys", "space")
    exp.nextEntry()
    trials = data.TrialHandler(nReps=1, method="sequential", trialList=[{"film_file": f} for f in films],
                               name="trials", seed=None)
    exp.addLoop(trials)
    for i, trial in enumerate(trials):
        start = t0 + 8.0 * i
        exp.addData("film.started", start)
        exp.addData("film.stopped", start + 6.0)
        exp.addData("key_resp.keys", keys[i])
        exp.addData("key_resp.rt", 1.2345 + i / 10)
        exp.addData("key_resp.duration", None)
        exp.addData("sam_valence.response", valences[i])
        exp.nextEntry()
    exp.saveAsWideText(f"{participant}_emotion_films.csv", delim=",")
    exp.abort()

session("P07", ["a.mp4", "b.mp4"], ["2", "1"], [3, 7], 32.0)
session("p08", ["a.mp4", "b.mp4"], ["1", "2"], [8, 2], 12.0)

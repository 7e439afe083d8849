"""Model classes in an importable module, so another interpreter can unpickle them by reference."""

from tureen.pyfunc import PythonModel


class Doubler(PythonModel):
    def predict(self, context, model_input, params=None):
        return model_input * 2
